// The MCP guard's pure parts: canonical resource URIs, JSON-RPC inspection, Mcp-* header checks and tools/list narrowing.
import { describe, expect, it } from 'vitest';
import { headerMismatch, readJsonRpc, toolCallsOf } from '../../../src/client/mcp-json-rpc.ts';
import { canonicalResource, metadataPathOf } from '../../../src/client/mcp-resource.ts';
import { createSseNarrower, narrowJsonBody } from '../../../src/client/mcp-tool-filter.ts';

const filter = { listIds: new Set([2]), allowed: new Set(['search_tickets']) };
const list = (id: number) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    result: { tools: [{ name: 'search_tickets' }, { name: 'export_tickets' }], nextCursor: 'c' },
  });

describe('canonicalResource', () => {
  it('lower-cases scheme and host, keeps the path without a trailing slash', () => {
    expect(canonicalResource('HTTPS://MCP.Example.com/MCP/')).toBe('https://mcp.example.com/MCP');
    expect(canonicalResource('https://mcp.example.com/')).toBe('https://mcp.example.com');
    expect(metadataPathOf('https://mcp.example.com/mcp')).toBe(
      '/.well-known/oauth-protected-resource/mcp',
    );
    expect(metadataPathOf('https://mcp.example.com')).toBe('/.well-known/oauth-protected-resource');
  });

  it('refuses what cannot be a resource identifier', () => {
    for (const bad of ['mcp', 'ftp://x/mcp', 'https://x/mcp#frag', 'https://u:p@x/mcp'])
      expect(() => canonicalResource(bad)).toThrow(TypeError);
  });
});

describe('readJsonRpc and toolCallsOf', () => {
  it('answers parse error and invalid request codes', () => {
    expect(readJsonRpc('{')).toMatchObject({ ok: false, code: -32700 });
    expect(readJsonRpc('[]')).toMatchObject({ ok: false, code: -32600 });
    expect(readJsonRpc('{"jsonrpc":"1.0","method":"x"}')).toMatchObject({ code: -32600 });
    expect(readJsonRpc('{"jsonrpc":"2.0","method":7}')).toMatchObject({ code: -32600 });
    expect(readJsonRpc('{"jsonrpc":"2.0","id":{},"method":"x"}')).toMatchObject({ code: -32600 });
  });

  it('finds tools/call with its name and arguments, and refuses one without a name', () => {
    const body = readJsonRpc(
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"refund","arguments":{"amount":5}}}',
    );
    if (!body.ok) throw new Error('expected a body');
    expect(toolCallsOf(body.messages)).toEqual([
      { id: 1, name: 'refund', arguments: { amount: 5 } },
    ]);
    const nameless = readJsonRpc('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{}}');
    if (!nameless.ok) throw new Error('expected a body');
    expect(typeof toolCallsOf(nameless.messages)).toBe('string');
  });
});

describe('headerMismatch', () => {
  const call = [{ id: 1, method: 'tools/call', params: { name: 'search_tickets' } }];
  it('passes agreeing or absent headers, names a disagreeing one', () => {
    expect(headerMismatch(call, undefined, undefined)).toBeUndefined();
    expect(headerMismatch(call, 'tools/call', 'search_tickets')).toBeUndefined();
    expect(headerMismatch(call, 'tools/list', undefined)).toMatch(/Mcp-Method/);
    expect(headerMismatch(call, 'tools/call', 'export_tickets')).toMatch(/Mcp-Name/);
    expect(headerMismatch([...call, ...call], 'tools/call', undefined)).toBeDefined();
  });
});

describe('tools/list narrowing', () => {
  it('keeps only allowed tools in the listed response, leaves other responses alone', () => {
    expect(JSON.parse(narrowJsonBody(list(2), filter)).result).toEqual({
      tools: [{ name: 'search_tickets' }],
      nextCursor: 'c',
    });
    expect(narrowJsonBody(list(3), filter)).toBe(list(3));
  });

  it('narrows SSE events split across chunks at any byte', () => {
    const stream = `event: message\nid: 1\ndata: ${list(2)}\n\n`;
    for (let cut = 1; cut < stream.length; cut += 7) {
      const sse = createSseNarrower(filter);
      const out = sse.push(stream.slice(0, cut)) + sse.push(stream.slice(cut)) + sse.end();
      expect(out).toContain('event: message\nid: 1\ndata: ');
      expect(out).not.toContain('export_tickets');
      expect(out.endsWith('\n\n')).toBe(true);
    }
  });
});
