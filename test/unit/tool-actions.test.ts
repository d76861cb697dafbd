// Tools as actions, pure parts: the effective Cedar schema, tools: scopes and canonical resource identifiers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { canonicalResource, canonicalResources } from '../../src/domain/resource-uri.ts';
import { compilePolicySet } from '../../src/policy/cedar-policy-set.ts';
import { declaredActions, effectiveSchema } from '../../src/policy/effective-schema.ts';
import { actionsOfScope } from '../../src/services/parse-intent.ts';

const SCHEMA = readFileSync('config/schema.cedarschema', 'utf8');
const TOOL_POLICY =
  'permit(principal == Agent::"a", action == Action::"search_tickets", resource == Resource::"https://mcp.example.com/mcp");';

describe('effectiveSchema', () => {
  const declared = declaredActions(SCHEMA);

  it("reads the schema file's own actions", () => {
    expect([...declared].sort()).toEqual([
      'create',
      'delete',
      'deploy',
      'execute',
      'export',
      'list',
      'read',
      'search',
      'update',
      'write',
    ]);
  });

  it('validates a policy on a registered tool, and refuses it without the registration', () => {
    const withTool = effectiveSchema(SCHEMA, declared, ['search_tickets', 'read.ticket-2']);
    expect(compilePolicySet(TOOL_POLICY, withTool, 1).ok).toBe(true);
    const without = compilePolicySet(TOOL_POLICY, SCHEMA, 1);
    expect(without.ok).toBe(false);
    expect(!without.ok && without.problems[0]?.message).toMatch(/search_tickets/);
  });

  it('leaves the schema as it is when nothing new is registered, and skips declared names', () => {
    expect(effectiveSchema(SCHEMA, declared, [])).toBe(SCHEMA);
    expect(effectiveSchema(SCHEMA, declared, ['read', 'search'])).toBe(SCHEMA);
    const twice = effectiveSchema(SCHEMA, declared, ['read', 'x_tool', 'x_tool']);
    expect(
      compilePolicySet('permit(principal, action == Action::"x_tool", resource);', twice, 1).ok,
    ).toBe(true);
  });
});

describe('actionsOfScope', () => {
  it.each<[string | undefined, string[] | undefined]>([
    [undefined, undefined],
    ['', []],
    ['tools:search_tickets', ['search_tickets']],
    ['search_tickets', ['search_tickets']],
    ['tools:search_tickets search_tickets read', ['search_tickets', 'read']],
    ['  tools:a   b ', ['a', 'b']],
  ])('%j -> %j', (scope, actions) => expect(actionsOfScope(scope)).toEqual(actions));

  it('refuses tools: without a name', () => {
    expect(() => actionsOfScope('read tools:')).toThrow(
      expect.objectContaining({ code: 'invalid_scope' }),
    );
  });
});

describe('canonicalResource', () => {
  it.each([
    ['https://mcp.example.com/mcp', 'https://mcp.example.com/mcp'],
    ['HTTPS://MCP.Example.COM/mcp', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/mcp/', 'https://mcp.example.com/mcp'],
    ['https://mcp.example.com/', 'https://mcp.example.com'],
    ['https://mcp.example.com', 'https://mcp.example.com'],
    ['https://mcp.example.com:8443/MCP/', 'https://mcp.example.com:8443/MCP'],
    ['https://mcp.example.com/mcp/?v=1', 'https://mcp.example.com/mcp?v=1'],
    ['https://User@MCP.example.com/x', 'https://User@mcp.example.com/x'],
    ['urn:example:Resource', 'urn:example:Resource'],
    ['https://a.example/x/#f', 'https://a.example/x#f'],
    ['https://a.example/Path', 'https://a.example/Path'],
  ])('%s -> %s', (uri, canonical) => expect(canonicalResource(uri)).toBe(canonical));

  it('keeps the path case and one slash of a doubled one: only the trailing slash goes', () => {
    expect(canonicalResource('https://a.example/Tickets//')).toBe('https://a.example/Tickets/');
  });

  it('drops repeats that are the same resource', () => {
    expect(
      canonicalResources(['https://a.example/x/', 'HTTPS://A.example/x', 'https://b.example']),
    ).toEqual(['https://a.example/x', 'https://b.example']);
  });
});
