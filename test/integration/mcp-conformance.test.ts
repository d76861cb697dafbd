// The MCP conformance suite's authorization-server scenarios against a broker: the suite's own CLI as the client, its printed authorization URL driven through the upstream sign-in and the consent form. The suite is a devDependency pinned to the alpha that has these scenarios (MANDATE_MCP_CONFORMANCE may name another build's dist/index.js).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerConsent, CookieJar, signInUpstream } from '../support/authorization-flow.ts';
import { admin } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { type SignInBroker, startSignInBroker } from '../support/upstream-idp.ts';

const CLI =
  process.env.MANDATE_MCP_CONFORMANCE ??
  createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/dist/index.js');
const MCP = 'https://tools.example.com/mcp';
const CLIENT = 'conformance-client';
// The person may use the server's read tools; the default scope asks for every registered tool.
const POLICY = `
@id("support-reads") permit(principal, action in [Action::"read_ticket", Action::"search_tickets"], resource)
  when { context has on_behalf_of && context.on_behalf_of.groups.contains("support") };
`;

interface Check {
  readonly id: string;
  readonly status: string;
  readonly errorMessage?: string;
}

let setup: SignInBroker;

beforeAll(async () => {
  setup = await startSignInBroker({
    name: 'mcp-conformance',
    // Replaced below, once the server's tools are registered actions.
    policy: '@id("placeholder") forbid(principal, action, resource) when { false };',
    client: {
      client_id: CLIENT,
      name: 'Conformance',
      redirect_uris: ['http://127.0.0.1/callback'],
    },
    resource: 'https://unused.example.com/mcp',
  });
  await setup.broker.client({
    name: 'tools MCP',
    kind: 'resource',
    resources: [MCP],
    actions: ['search_tickets', 'read_ticket', 'export_tickets'],
  });
  const policy = await admin(setup.broker.url, 'PUT', '/admin/policies', { policies: POLICY });
  expect(policy.status, policy.text).toBe(200);
}, 60_000);

/** The suite's CLI while it runs: killed after the tests, should a timeout leave it running. */
let running: ReturnType<typeof spawn> | undefined;

afterAll(async () => {
  if (running && running.exitCode === null) running.kill('SIGKILL');
  await setup?.close();
});

/**
 * Runs every authorization-server scenario in one process (the code grant reads the metadata
 * scenario's answer); when the suite prints an authorization URL, a person signs in and approves it.
 */
async function runScenarios(): Promise<Check[]> {
  const out = mkdtempSync(join(tmpdir(), 'mandate-conformance-'));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      CLI,
      'authorization',
      '--url',
      setup.broker.issuer,
      '--client-id',
      CLIENT,
      '--resource',
      MCP,
      '--port',
      String(port),
      '--output-dir',
      out,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running = child;
  let printed = '';
  let driving: Promise<void> | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
    const url = printed
      .split('\n')
      .find((l) => l.startsWith(`${setup.broker.issuer}/oauth/authorize?`));
    if (url && !driving)
      driving = (async () => {
        const jar = new CookieJar();
        const consent = await signInUpstream(jar, url.trim(), 'alice');
        const res = await answerConsent(jar, consent, 'approve');
        // The suite's callback listener: what a browser would load next.
        await fetch(res.headers.get('location') ?? '');
      })().catch((err: unknown) => {
        // An error redirect already reached the suite, which then stopped listening: its checks say why.
        printed += `\n[driver] ${String(err)}`;
      });
  });
  child.stderr.on('data', (chunk: Buffer) => {
    printed += chunk.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  await driving;
  const files = readdirSync(out, { recursive: true, encoding: 'utf8' }).filter(
    (f) => f.endsWith('checks.json') && statSync(join(out, f)).isFile(),
  );
  expect(files.length, `exit ${code}: ${printed}`).toBeGreaterThan(0);
  return files.flatMap((f) => JSON.parse(readFileSync(join(out, f), 'utf8')) as Check[]);
}

describe('MCP conformance suite, authorization-server scenarios', () => {
  it('the metadata and authorization code scenarios pass every check (no scope sent)', async () => {
    const checks = await runScenarios();
    const ids = new Set(checks.map((c) => c.id));
    expect(ids).toContain('authorization-code-grant');
    expect(
      checks.filter((c) => c.status !== 'SUCCESS'),
      checks.map((c) => `${c.id}: ${c.status}`).join(', '),
    ).toEqual([]);
  }, 120_000);
});
