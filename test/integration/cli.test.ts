// The `mandate` CLI against a real broker and Redis: admin commands, token get, introspect, exit codes.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, CRM } from '../support/broker.ts';
import { runMandate } from '../support/run-mandate.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;
let dir: string;

/** Runs one command line in-process with real fetch; returns its exit code and output. */
const mandate = (args: string[], env: Record<string, string> = {}) =>
  runMandate(broker.url, args, env);

async function mandateJson<T = Record<string, unknown>>(
  args: string[],
  env?: Record<string, string>,
): Promise<T> {
  const r = await mandate(['--json', ...args], env);
  if (r.code !== 0) throw new Error(`mandate ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

beforeAll(async () => {
  broker = await startTestBroker();
  dir = await mkdtemp(join(tmpdir(), 'mandate-cli-'));
});

afterAll(async () => {
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mandate CLI against a live broker', () => {
  let agentSecret = '';
  let resourceSecret = '';

  it('registers an agent and a resource server, printing each secret once', async () => {
    const agent = await mandate([
      'clients',
      'add',
      '--client-id',
      'cli-agent',
      '--name',
      'CLI agent',
      '--kind',
      'agent',
    ]);
    expect(agent.code).toBe(0);
    agentSecret = /client_secret\s+(\S+)/.exec(agent.out)?.[1] ?? '';
    expect(agentSecret.length).toBeGreaterThanOrEqual(43);
    const resource = await mandateJson<{ client_secret: string }>([
      'clients',
      'add',
      '--client-id',
      'cli-crm',
      '--name',
      'CRM',
      '--kind',
      'resource',
      '--resources',
      CRM,
    ]);
    resourceSecret = resource.client_secret;
    const list = await mandate(['clients', 'ls']);
    expect(list.out).toMatch(/cli-agent\s+CLI agent\s+agent/);
    expect(list.out).toMatch(/cli-crm\s+CRM\s+resource\s+-\s+https:\/\/crm\.example\.com/);
    expect(list.out).not.toContain(agentSecret);
  });

  it('gets a narrowed token, introspects it, revokes its grant, and introspection turns inactive', async () => {
    const creds = ['--client-id', 'cli-agent', '--client-secret', agentSecret];
    const token = await mandateJson<{
      access_token: string;
      grant_id: string;
      authorization_details: Array<{ actions: string[] }>;
    }>(['token', 'get', ...creds, '--task', 'T-cli', '--action', 'read,write', '--location', CRM]);
    // The default policy lets any agent read but only writers write: the grant is narrowed.
    expect(token.authorization_details.flatMap((d) => d.actions)).toEqual(['read']);

    const rs = ['--client-id', 'cli-crm', '--client-secret', resourceSecret];
    const before = await mandateJson<{ active: boolean; grant_id: string }>([
      'introspect',
      token.access_token,
      ...rs,
    ]);
    expect(before).toMatchObject({ active: true, grant_id: token.grant_id });

    const grants = await mandate(['grants', 'ls', '--client', 'cli-agent', '--status', 'active']);
    expect(grants.out).toContain(token.grant_id);

    const revoked = await mandate([
      'revoke',
      '--grant',
      token.grant_id,
      '--reason',
      'cli integration test',
    ]);
    expect(revoked).toMatchObject({ code: 0, out: 'revoked 1 grant(s), 1 token(s)' });
    expect(await mandateJson(['introspect', token.access_token, ...rs])).toEqual({ active: false });

    const decisions = await mandate(['decisions', 'ls', '--grant', token.grant_id]);
    expect(decisions.out).toMatch(/revocation\s+\S+/);
    expect(decisions.out).toMatch(/mint\s+narrow/);
    expect((await mandate(['audit', 'verify'])).code).toBe(0);
  });

  it('exits 1 with the OAuth error when policy permits nothing or the secret is wrong', async () => {
    const denied = await mandate([
      'token',
      'get',
      '--client-id',
      'cli-agent',
      '--client-secret',
      agentSecret,
      '--task',
      'T-x',
      '--action',
      'deploy',
      '--location',
      CRM,
    ]);
    expect(denied.code).toBe(1);
    expect(denied.err).toContain('access_denied');
    const wrong = await mandate([
      'token',
      'get',
      '--client-id',
      'cli-agent',
      '--client-secret',
      'nope',
      '--task',
      'T-x',
      '--action',
      'read',
      '--location',
      CRM,
    ]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('invalid_client');
  });

  it('exits 1 with line and column for a policy set that does not parse, and keeps the old one', async () => {
    const before = await mandateJson<{ version: number }>(['policy', 'show']);
    const bad = join(dir, 'bad.cedar');
    await writeFile(bad, 'permit(principal, action, resource)\n');
    const pushed = await mandate(['policy', 'push', bad]);
    expect(pushed.code).toBe(1);
    expect(pushed.err).toMatch(/line 1, column \d+/);
    expect((await mandateJson<{ version: number }>(['policy', 'show'])).version).toBe(
      before.version,
    );
    const shown = await mandate(['policy', 'show']);
    expect(shown.out.startsWith(`// policy version ${before.version}\n`)).toBe(true);
  });

  it('rotates the signing key and the JWKS publishes the new kid', async () => {
    const { kid } = await mandateJson<{ kid: string }>(['keys', 'rotate']);
    const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
  });

  it('exits 1 when the broker refuses: a wrong admin token (401) or an unknown client (404)', async () => {
    const r = await mandate(['clients', 'ls', '--token', 'wrong-token']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('HTTP 401');
    const missing = await mandate(['clients', 'disable', 'no-such-client']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('HTTP 404');
  });

  it('works as a process through the bin with MANDATE_URL and MANDATE_ADMIN_TOKEN', async () => {
    // Asynchronous on purpose: the broker runs in this process and must keep answering.
    const root = join(import.meta.dirname, '../..');
    const { stdout } = await promisify(execFile)(
      join(root, 'node_modules/.bin/node'),
      ['bin/mandate.js', 'clients', 'ls', '--json'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? '',
          MANDATE_URL: broker.url,
          MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
        },
        timeout: 20_000,
      },
    );
    const body = JSON.parse(stdout) as { clients: Array<{ client_id: string }> };
    expect(body.clients.map((c) => c.client_id)).toEqual(
      expect.arrayContaining(['cli-agent', 'cli-crm']),
    );
  });
});
