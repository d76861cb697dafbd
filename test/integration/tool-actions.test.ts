// Tools as actions: a resource client's registered actions join the Cedar schema on every broker process; tools: scopes; canonical resources.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  admin,
  type Credentials,
  createClient,
  oauthPost,
  type TokenBody,
  waitFor,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { runMandate } from '../support/run-cli.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const MCP = 'https://mcp.example.com/mcp';
const REPO = join(import.meta.dirname, '../..');
let a: TestBroker;
/** A second broker: its own process, the same Redis and prefix. */
let b: BrokerProcess;
let defaults: string;
let agent: Credentials;

const permitTool = (tool: string) =>
  `\n@id("may-${tool}")\npermit (principal == Agent::"tool-agent", action == Action::"${tool}", resource == Resource::"${MCP}");\n`;

const putPolicy = (base: string, text: string) =>
  admin(base, 'PUT', '/admin/policies', { policies: text });

beforeAll(async () => {
  const prefix = uniquePrefix('tools');
  a = await startTestBroker({ prefix, deleteKeysOnClose: true });
  b = await spawnBrokerProcess({ redisUrl: a.redisUrl, prefix });
  const current = await admin<{ policies: string }>(a.url, 'GET', '/admin/policies');
  defaults = current.body.policies;
  agent = await createClient(a.url, { client_id: 'tool-agent', name: 'Tool agent', kind: 'agent' });
});

afterAll(async () => {
  await b?.stop();
  await a?.close();
});

describe('registered actions and the Cedar schema', () => {
  it('refuses a policy naming an action nobody registered', async () => {
    const put = await putPolicy(a.url, defaults + permitTool('search_tickets'));
    expect(put.status).toBe(400);
    expect(put.text).toMatch(/search_tickets/);
  });

  it('accepts it once a resource client registers the tool, storing its resource in canonical form', async () => {
    const created = await admin<{ client: { resources: string[]; actions: string[] } }>(
      a.url,
      'POST',
      '/admin/clients',
      {
        client_id: 'tickets-mcp',
        name: 'Tickets MCP server',
        kind: 'resource',
        resources: ['HTTPS://MCP.Example.com/mcp/'],
        actions: ['search_tickets', 'read_ticket'],
      },
    );
    expect(created.status, created.text).toBe(201);
    expect(created.body.client.resources).toEqual([MCP]);
    expect(created.body.client.actions).toEqual(['search_tickets', 'read_ticket']);
    const put = await putPolicy(a.url, defaults + permitTool('search_tickets'));
    expect(put.status, put.text).toBe(200);
  });

  it('makes the new actions known to a second broker process (its own) through the event bus', async () => {
    // b validates against its own schema: it must have learned of export_tickets.
    expect((await putPolicy(b.url, defaults + permitTool('export_tickets'))).status).toBe(400);
    const patched = await admin(a.url, 'PATCH', '/admin/clients/tickets-mcp', {
      actions: ['search_tickets', 'read_ticket', 'export_tickets'],
    });
    expect(patched.status, patched.text).toBe(200);
    const accepted = await waitFor(
      async () =>
        (
          await admin(b.url, 'POST', '/admin/policies/simulate', {
            policies: defaults + permitTool('search_tickets') + permitTool('export_tickets'),
          })
        ).status === 200,
      5000,
    );
    expect(accepted).toBe(true);
    expect(
      (
        await putPolicy(
          b.url,
          defaults + permitTool('search_tickets') + permitTool('export_tickets'),
        )
      ).status,
    ).toBe(200);
  });

  it('refuses (409) removing an action the policy in force names, and leaves the client as it was', async () => {
    const patched = await admin(a.url, 'PATCH', '/admin/clients/tickets-mcp', {
      actions: ['read_ticket'],
    });
    expect(patched.status).toBe(409);
    const deleted = await admin(a.url, 'DELETE', '/admin/clients/tickets-mcp');
    expect(deleted.status).toBe(409);
    const shown = await admin<{ actions: string[] }>(a.url, 'GET', '/admin/clients/tickets-mcp');
    expect(shown.body.actions).toEqual(['search_tickets', 'read_ticket', 'export_tickets']);
  });

  it('refuses actions on an agent and names that are not tool names', async () => {
    const onAgent = await admin(a.url, 'POST', '/admin/clients', {
      name: 'x',
      kind: 'agent',
      actions: ['search_tickets'],
    });
    expect(onAgent.status).toBe(400);
    for (const bad of [['tools:x'], ['a b'], ['_x'], ['x', 'x'], ['y'.repeat(65)]]) {
      const res = await admin(a.url, 'POST', '/admin/clients', {
        name: 'x',
        kind: 'resource',
        resources: [MCP],
        actions: bad,
      });
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
  });
});

describe('tool scopes at the token endpoint', () => {
  const token = (scope: string, resource: string) =>
    oauthPost(a.url, '/oauth/token', { grant_type: 'client_credentials', scope, resource }, agent);

  it('takes tools:<name> and the bare name as the action, and the resource in canonical form', async () => {
    const res = await token('tools:search_tickets', 'https://MCP.example.com/mcp/');
    expect(res.status, res.text).toBe(200);
    const body = res.body as unknown as TokenBody;
    expect(body.authorization_details[0]).toMatchObject({
      actions: ['search_tickets'],
      locations: [MCP],
    });
    const bare = await token('search_tickets', MCP);
    expect(bare.status, bare.text).toBe(200);
  });

  it('decides a tool policy does not permit as any other action (no grant)', async () => {
    const res = await token('tools:read_ticket', MCP);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('access_denied');
  });

  it('refuses an empty tools: scope', async () => {
    const res = await token('tools:', MCP);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_scope');
  });
});

describe('registering actions through mandate.yaml and the CLI', () => {
  it('loads a resource client with actions from the config file, so a policy on them validates', async () => {
    const broker = await startTestBroker({
      name: 'tools-yaml',
      config: [
        'clients:',
        '  - client_id: yaml-mcp',
        '    name: YAML MCP server',
        '    kind: resource',
        `    resources: ["${MCP}/"]`,
        '    actions: [lookup_order]',
        '    client_secret: "0123456789abcdef0123456789abcdef"',
        '',
      ].join('\n'),
    });
    try {
      const shown = await admin<{ resources: string[]; actions: string[] }>(
        broker.url,
        'GET',
        '/admin/clients/yaml-mcp',
      );
      expect(shown.body).toMatchObject({ resources: [MCP], actions: ['lookup_order'] });
      const current = await admin<{ policies: string }>(broker.url, 'GET', '/admin/policies');
      expect(
        (await putPolicy(broker.url, current.body.policies + permitTool('lookup_order'))).status,
      ).toBe(200);
    } finally {
      await broker.close();
    }
  });

  it("a first start whose policy files name the config file clients' actions: they validate", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-tools-policies-'));
    copyFileSync(join(REPO, 'config/policies/default.cedar'), join(dir, 'default.cedar'));
    writeFileSync(join(dir, 'tools.cedar'), permitTool('first_boot_tool'));
    const broker = await startTestBroker({
      name: 'tools-yaml-boot',
      config: [
        `policy: { dir: ${JSON.stringify(dir)} }`,
        'clients:',
        '  - client_id: boot-mcp',
        '    name: Boot MCP server',
        '    kind: resource',
        `    resources: ["${MCP}"]`,
        '    actions: [first_boot_tool]',
        '    client_secret: "0123456789abcdef0123456789abcdef"',
        '',
      ].join('\n'),
    });
    try {
      const current = await admin<{ policies: string }>(broker.url, 'GET', '/admin/policies');
      expect(current.body.policies).toContain('Action::"first_boot_tool"');
    } finally {
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a first start whose policy files name an action nobody registered: refused as configuration, not as Redis', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-tools-policies-'));
    copyFileSync(join(REPO, 'config/policies/default.cedar'), join(dir, 'default.cedar'));
    writeFileSync(join(dir, 'tools.cedar'), permitTool('nobody_registered_this'));
    try {
      const started = startTestBroker({
        name: 'tools-yaml-unknown',
        config: `policy: { dir: ${JSON.stringify(dir)} }\n`,
      });
      await expect(started).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringMatching(/does not compile.*nobody_registered_this/),
      });
      await expect(started).rejects.not.toThrow(/Redis/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('registers and replaces actions with mandate clients add --actions and set-actions', async () => {
    const added = await runMandate(a.url, [
      'clients',
      'add',
      '--name',
      'CLI MCP',
      '--kind',
      'resource',
      '--client-id',
      'cli-mcp',
      '--resources',
      'https://cli.example.com/mcp',
      '--actions',
      'cli_tool_one,cli_tool_two',
    ]);
    expect(added.code, added.err).toBe(0);
    expect(
      (await admin<{ actions: string[] }>(a.url, 'GET', '/admin/clients/cli-mcp')).body.actions,
    ).toEqual(['cli_tool_one', 'cli_tool_two']);
    const set = await runMandate(a.url, ['clients', 'set-actions', 'cli-mcp', 'cli_tool_three']);
    expect(set.code, set.err).toBe(0);
    expect(
      (await admin<{ actions: string[] }>(a.url, 'GET', '/admin/clients/cli-mcp')).body.actions,
    ).toEqual(['cli_tool_three']);
  });
});
