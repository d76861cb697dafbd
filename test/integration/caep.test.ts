// CAEP push end to end: revocations and narrowings reach registered receivers as signed SETs (RFC 8417/8935), with retries.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_CONFIG } from '../support/action-time.ts';
import {
  ADMIN_TOKEN,
  admin,
  CRM,
  type Credentials,
  isActive,
  mintToken,
  task,
  waitFor,
} from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEFAULT_POLICY = readFileSync(resolve(ROOT, 'config/policies/default.cedar'), 'utf8');
const READ_ONLY_POLICY = `@id("read-only") permit (principal, action == Action::"read", resource);\n`;
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
const CONFIG_RECEIVER_SECRET = 'config-receiver-bearer-0123456789';

interface Push {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A local RFC 8935 receiver: records every push, answers `statuses` in turn and then 202. */
class Receiver {
  readonly pushes: Push[] = [];
  attempts = 0;
  private server: Server | undefined;
  constructor(private readonly statuses: number[] = []) {}

  async listen(port = 0): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c.toString();
      });
      req.on('end', () => {
        this.attempts += 1;
        const status = this.statuses.shift() ?? 202;
        if (status === 202) this.pushes.push({ headers: req.headers, body });
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(
          status === 400 ? JSON.stringify({ err: 'invalid_request', description: 'nope' }) : '',
        );
      });
    });
    await new Promise<void>((ok) => this.server?.listen(port, '127.0.0.1', () => ok()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/events`;
  }

  close(): Promise<void> {
    return new Promise((ok) => (this.server ? this.server.close(() => ok()) : ok()));
  }
}

const CONFIG = [
  POLICY_CONFIG,
  // The receivers here listen on http://127.0.0.1: allowed only by these flags.
  'caep: { allow_http: true, allow_private_targets: true }',
  'receivers:',
  `  - { id: from-config, url: "http://127.0.0.1:9/never", events: [session-revoked], authorization: ${CONFIG_RECEIVER_SECRET} }`,
  '',
].join('\n');
let broker: TestBroker;
let base: string;
let agent: Credentials;
let resource: Credentials;
let jwks: ReturnType<typeof createRemoteJWKSet>;
const receivers: Receiver[] = [];

/** Verifies a pushed SET against the broker's JWKS; returns its payload. */
async function verifySet(push: Push, audience: string) {
  expect(push.headers['content-type']).toBe('application/secevent+jwt');
  expect(push.headers.accept).toBe('application/json');
  const { payload, protectedHeader } = await jwtVerify(push.body, jwks, {
    issuer: base,
    audience,
    typ: 'secevent+jwt',
  });
  expect(protectedHeader.kid).toBeTypeOf('string');
  return payload as Record<string, unknown> & { events: Record<string, Record<string, unknown>> };
}

/** Registers a receiver through the admin API. */
async function register(id: string, url: string, extra: Record<string, unknown> = {}) {
  const res = await admin(base, 'POST', '/admin/receivers', { id, url, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

/** The pushes a receiver got about one grant. */
function pushesFor(r: Receiver, grantId: string): Push[] {
  return r.pushes.filter((p) => {
    const [, payload] = p.body.split('.');
    const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as {
      events: Record<string, { subject: { id: string } }>;
    };
    return Object.values(claims.events).some((e) => e.subject.id === grantId);
  });
}

async function revoke(grantId: string) {
  const res = await admin(base, 'POST', '/admin/revocations', {
    grant_id: grantId,
    reason: 'caep test',
  });
  expect(res.status).toBe(200);
}

beforeAll(async () => {
  broker = await startTestBroker({ name: 'caep', worker: true, config: CONFIG });
  base = broker.url;
  jwks = createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`));
  ({ agent, resource } = await broker.clients({ groups: ['writers'] }));
  // The config receiver points at a dead port; it is not under test here, so take it away.
  expect((await admin(base, 'DELETE', '/admin/receivers/from-config')).status).toBe(200);
});

afterAll(async () => {
  await broker?.close();
  for (const r of receivers) await r.close();
});

describe('admin API for receivers', () => {
  it('seeds config receivers, lists without the bearer token, deletes', async () => {
    // Re-seeding happens at start; a second start against the same prefix restores the deleted one.
    const again = await startTestBroker({ prefix: broker.prefix, api: false, config: CONFIG });
    await again.close();
    await register('listed', 'https://rs.example.com/caep', {
      authorization: 'listed-secret-abcdef',
      events: ['token-claims-change'],
    });
    const list = await admin<{ receivers: Array<Record<string, unknown>> }>(
      base,
      'GET',
      '/admin/receivers',
    );
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(CONFIG_RECEIVER_SECRET);
    expect(list.text).not.toContain('listed-secret-abcdef');
    const byId = Object.fromEntries(list.body.receivers.map((r) => [r.id, r]));
    expect(byId['from-config']).toEqual({
      id: 'from-config',
      url: 'http://127.0.0.1:9/never',
      audience: 'http://127.0.0.1:9/never',
      events: ['session-revoked'],
      has_authorization: true,
    });
    expect(byId.listed).toEqual({
      id: 'listed',
      url: 'https://rs.example.com/caep',
      audience: 'https://rs.example.com/caep',
      events: ['token-claims-change'],
      has_authorization: true,
    });
    expect((await admin(base, 'DELETE', '/admin/receivers/listed')).status).toBe(200);
    expect((await admin(base, 'DELETE', '/admin/receivers/from-config')).status).toBe(200);
    const gone = await admin(base, 'DELETE', '/admin/receivers/listed');
    expect(gone.status).toBe(404);
    expect(gone.headers.get('content-type')).toContain('application/problem+json');
  });

  it.each([
    ['missing url', { id: 'r1' }],
    ['bad url scheme', { id: 'r1', url: 'ftp://x.example.com/' }],
    ['unknown event', { id: 'r1', url: 'https://x.example.com/', events: ['session-hijacked'] }],
    ['empty events', { id: 'r1', url: 'https://x.example.com/', events: [] }],
    ['bad id', { id: '../x', url: 'https://x.example.com/' }],
    [
      'header injection in authorization',
      { id: 'r1', url: 'https://x.example.com/', authorization: 'a\r\nX-Evil: 1' },
    ],
    ['unknown field', { id: 'r1', url: 'https://x.example.com/', secret: 'x' }],
  ])('refuses %s with problem+json 400', async (_name, body) => {
    const res = await admin(base, 'POST', '/admin/receivers', body);
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(res.text).not.toContain('X-Evil');
  });

  it('refuses a duplicate id (409), an unauthenticated caller (401) and a non-JSON body (415)', async () => {
    await register('dup', 'https://dup.example.com/');
    expect(
      (
        await admin(base, 'POST', '/admin/receivers', {
          id: 'dup',
          url: 'https://dup.example.com/',
        })
      ).status,
    ).toBe(409);
    expect(
      (await admin(base, 'GET', '/admin/receivers', undefined, 'not-the-admin-token-000')).status,
    ).toBe(401);
    const res = await fetch(`${base}/admin/receivers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/plain' },
      body: 'x',
    });
    expect(res.status).toBe(415);
    expect((await admin(base, 'DELETE', '/admin/receivers/dup')).status).toBe(200);
  });
});

describe('push delivery', () => {
  it('pushes a signed session-revoked SET when a grant is revoked', async () => {
    const r = new Receiver();
    receivers.push(r);
    const url = await r.listen();
    // Its audience is the resource the grant is on: receivers hear only of grants on their audience.
    await register('revoked-rs', url, { audience: CRM, authorization: 'rs-bearer-0123456789' });
    const token = await mintToken(base, agent, [task(['read'])]);
    await revoke(token.grant_id);
    expect(await waitFor(async () => pushesFor(r, token.grant_id).length > 0, 5000)).toBe(true);
    const [push] = pushesFor(r, token.grant_id);
    if (!push) throw new Error('no push');
    expect(push.headers.authorization).toBe('Bearer rs-bearer-0123456789');
    expect(decodeProtectedHeader(push.body).typ).toBe('secevent+jwt');
    const set = await verifySet(push, CRM);
    expect(set.jti).toBeTypeOf('string');
    expect(set.iat).toBeTypeOf('number');
    expect(set.client_id).toBe(agent.client_id);
    expect(Object.keys(set.events)).toEqual([SESSION_REVOKED]);
    const event = set.events[SESSION_REVOKED] ?? {};
    expect(event.subject).toEqual({ format: 'opaque', id: token.grant_id });
    expect(event.reason_admin).toEqual({ en: 'caep test' });
    expect(event.initiating_entity).toBe('admin');
    expect(Math.abs((event.event_timestamp as number) - Date.now() / 1000)).toBeLessThan(30);
    // A SET is signed by the same key but is no access token: introspection refuses it.
    expect(await isActive(base, resource, push.body)).toBe(false);
    expect((await admin(base, 'DELETE', '/admin/receivers/revoked-rs')).status).toBe(200);
  });

  it('retries a receiver answering 503 until it accepts', async () => {
    const r = new Receiver([503, 503]);
    receivers.push(r);
    const url = await r.listen();
    await register('flaky-rs', url, { audience: CRM });
    const token = await mintToken(base, agent, [task(['read'])]);
    await revoke(token.grant_id);
    expect(await waitFor(async () => pushesFor(r, token.grant_id).length > 0, 10_000)).toBe(true);
    expect(r.attempts).toBe(3);
    const [push] = pushesFor(r, token.grant_id);
    if (!push) throw new Error('no push');
    await verifySet(push, CRM);
    await admin(base, 'DELETE', '/admin/receivers/flaky-rs');
  });

  it('delivers to a receiver that is down at first and comes up later', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/events`;
    await register('late-rs', url, { audience: CRM });
    const token = await mintToken(base, agent, [task(['read'])]);
    await revoke(token.grant_id);
    await sleep(1500);
    const r = new Receiver();
    receivers.push(r);
    await r.listen(port);
    expect(await waitFor(async () => pushesFor(r, token.grant_id).length > 0, 15_000)).toBe(true);
    const [push] = pushesFor(r, token.grant_id);
    if (!push) throw new Error('no push');
    const set = await verifySet(push, CRM);
    expect(set.events[SESSION_REVOKED]?.subject).toEqual({ format: 'opaque', id: token.grant_id });
    await admin(base, 'DELETE', '/admin/receivers/late-rs');
  });

  it('does not retry a SET the receiver refuses with 400', async () => {
    const r = new Receiver([400, 400, 400]);
    receivers.push(r);
    await register('strict-rs', await r.listen(), { audience: CRM });
    const token = await mintToken(base, agent, [task(['read'])]);
    await revoke(token.grant_id);
    expect(await waitFor(async () => r.attempts >= 1, 5000)).toBe(true);
    await sleep(2000);
    expect(r.attempts).toBe(1);
    await admin(base, 'DELETE', '/admin/receivers/strict-rs');
  });

  it('pushes token-claims-change with the narrowed authorization_details after a policy change', async () => {
    const r = new Receiver();
    receivers.push(r);
    const url = await r.listen();
    await register('narrow-rs', url, { events: ['token-claims-change'], audience: CRM });
    const token = await mintToken(base, agent, [task(['read', 'write'])]);
    expect(token.authorization_details[0]?.actions).toEqual(['read', 'write']);
    try {
      expect(
        (await admin(base, 'PUT', '/admin/policies', { policies: READ_ONLY_POLICY })).status,
      ).toBe(200);
      expect(await waitFor(async () => pushesFor(r, token.grant_id).length > 0, 10_000)).toBe(true);
    } finally {
      expect(
        (await admin(base, 'PUT', '/admin/policies', { policies: DEFAULT_POLICY })).status,
      ).toBe(200);
    }
    const [push] = pushesFor(r, token.grant_id);
    if (!push) throw new Error('no push');
    const set = await verifySet(push, CRM);
    expect(Object.keys(set.events)).toEqual([CLAIMS_CHANGE]);
    const event = set.events[CLAIMS_CHANGE] ?? {};
    expect(event.subject).toEqual({ format: 'opaque', id: token.grant_id });
    expect(event.initiating_entity).toBe('policy');
    const details = (
      event.claims as { authorization_details: Array<{ actions: string[]; locations: string[] }> }
    ).authorization_details;
    expect(details).toHaveLength(1);
    expect(details[0]?.actions).toEqual(['read']);
    expect(details[0]?.locations).toEqual(token.authorization_details[0]?.locations);
    // It subscribed to claims changes only: a revocation sends it nothing.
    const other = await mintToken(base, agent, [task(['read'])]);
    await revoke(other.grant_id);
    await sleep(1000);
    expect(pushesFor(r, other.grant_id)).toHaveLength(0);
    await admin(base, 'DELETE', '/admin/receivers/narrow-rs');
  });
});
