// The resource guard's permit cache against a real broker and worker: a revocation's CAEP push drops it at once.
import { performance } from 'node:perf_hooks';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMandateGuard,
  type MandateGuard,
  type SecurityEventResult,
} from '../../src/client/guard.ts';
import {
  type MandateVariables,
  mandateEventReceiver,
  requireMandate,
} from '../../src/client/hono.ts';
import { POLICY_CONFIG } from '../support/action-time.ts';
import {
  admin,
  CRM,
  type Credentials,
  createClients,
  mintToken,
  task,
  waitFor,
} from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const RECEIVER_BEARER = 'guard-events-bearer-0123456789';
const CACHE_TTL_MS = 5000;

interface Received {
  /** When the receiver handed the SET to the guard (its body read). */
  readonly startMs: number;
  /** When the guard had verified it and dropped the permits. */
  readonly doneMs: number;
  readonly result: SecurityEventResult;
}

let broker: TestBroker;
let agent: Credentials;
let resource: Credentials;
let guard: MandateGuard;
let resourceUrl: string;
let closeResource: () => Promise<void>;
/** Calls the guard made to the broker's evaluation endpoint: a cache hit makes none. */
let evaluations = 0;
/** Every SET the receiver handled, with when its permits were dropped. */
const received: Received[] = [];
/** Statuses the receiver answered, in order. */
const answered: number[] = [];

const guardOptions = () => ({
  issuer: broker.url,
  clientId: resource.client_id,
  clientSecret: resource.client_secret,
  resource: CRM,
  action: 'read',
  cacheTtlMs: CACHE_TTL_MS,
});

beforeAll(async () => {
  // The receiver below listens on http://127.0.0.1: allowed only by the caep flags.
  broker = await startTestBroker({
    config: `${POLICY_CONFIG}\ncaep: { allow_http: true, allow_private_targets: true }\n`,
    api: true,
    worker: true,
  });
  ({ agent, resource } = await createClients(broker.url, { groups: ['writers'] }));

  guard = createMandateGuard({
    ...guardOptions(),
    fetch: (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.endsWith('/access/v1/evaluation')) evaluations += 1;
      return fetch(input, init);
    },
  });
  // Seen by the receiver as the guard, so the test learns when each SET was processed.
  const observed: MandateGuard = {
    ...guard,
    async receiveSecurityEvent(set) {
      const startMs = performance.now();
      const result = await guard.receiveSecurityEvent(set);
      received.push({ startMs, doneMs: performance.now(), result });
      return result;
    },
  };

  const app = new Hono<{ Variables: MandateVariables }>();
  app.use('/records/*', requireMandate({ guard, action: 'read' }));
  app.get('/records/:id', (c) => c.json({ id: c.req.param('id'), grant: c.var.mandate.grant_id }));
  app.use('/caep', async (c, next) => {
    await next();
    answered.push(c.res.status);
  });
  app.post('/caep', mandateEventReceiver(observed, { authorization: RECEIVER_BEARER }));

  const port = await freePort();
  const server = await new Promise<ReturnType<typeof serve>>((ok) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port }, () => ok(s));
  });
  resourceUrl = `http://127.0.0.1:${port}`;
  closeResource = () => new Promise<void>((ok) => server.close(() => ok()));

  const registered = await admin(broker.url, 'POST', '/admin/receivers', {
    id: 'guard-events-crm',
    url: `${resourceUrl}/caep`,
    audience: CRM,
    authorization: RECEIVER_BEARER,
  });
  expect(registered.status).toBe(201);
});

afterAll(async () => {
  guard?.close();
  await closeResource?.();
  await broker?.close();
});

const getRecord = (token: string) =>
  fetch(`${resourceUrl}/records/7`, { headers: { authorization: `Bearer ${token}` } });

/** A fresh grant whose token has just been permitted once and is now cached. */
async function cachedToken() {
  const minted = await mintToken(broker.url, agent, [task(['read'])]);
  const first = await getRecord(minted.access_token);
  expect(first.status).toBe(200);
  expect(await first.json()).toEqual({ id: '7', grant: minted.grant_id });
  const before = evaluations;
  expect((await getRecord(minted.access_token)).status).toBe(200);
  expect(evaluations).toBe(before); // served from the cache
  return minted;
}

describe('guard cache and CAEP revocation events', () => {
  it('drops the cached permit when the revocation SET arrives: the next request is refused', async () => {
    const { access_token: token, grant_id: grantId } = await cachedToken();
    // The same permit cached by a guard without a receiver: only the TTL would end it.
    const unaware = createMandateGuard(guardOptions());
    expect((await unaware.check(`Bearer ${token}`)).ok).toBe(true);

    const revoked = await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: grantId,
      reason: 'guard events test',
    });
    const revokedAtMs = performance.now();
    expect(revoked.status).toBe(200);

    const ofGrant = () => received.find((r) => r.result.ok && r.result.grantId === grantId);
    // The next request goes out only once the receiver has answered the push with 202.
    expect(
      await waitFor(async () => ofGrant() !== undefined && answered.includes(202), 5000, 5),
    ).toBe(true);
    const event = ofGrant();
    if (!event) throw new Error('no SET for the grant');
    const latencyMs = event.doneMs - revokedAtMs;
    console.info(
      `revocation returned -> permits dropped: ${latencyMs.toFixed(1)} ms; ` +
        `SET received -> permits dropped: ${(event.doneMs - event.startMs).toFixed(1)} ms`,
    );
    expect(latencyMs).toBeLessThan(2000);
    // The event itself dropped the cached permit (not the TTL, which is 5 s).
    expect(event.result).toMatchObject({ ok: true, invalidated: 1 });

    const before = evaluations;
    const after = await getRecord(token);
    expect(after.status).toBe(401);
    expect(await after.json()).toMatchObject({ error: 'invalid_token' });
    expect(evaluations).toBe(before + 1); // asked the broker again
    // Without the event, the revoked token would still pass here from the cache.
    expect((await unaware.check(`Bearer ${token}`)).ok).toBe(true);
    unaware.close();
  });

  it('refuses a forged SET with 400 and keeps serving the cached permit', async () => {
    const { access_token: token, grant_id: grantId } = await cachedToken();
    const { privateKey } = await generateKeyPair('ES256');
    // The broker's real kid, so only the signature gives the forgery away.
    const kid = decodeProtectedHeader(token).kid;
    const forged = await new SignJWT({
      iss: broker.url,
      aud: CRM,
      iat: Math.floor(Date.now() / 1000),
      jti: 'forged-set-1',
      events: { [SESSION_REVOKED]: { subject: { format: 'opaque', id: grantId } } },
    })
      .setProtectedHeader({ alg: 'ES256', ...(kid ? { kid } : {}), typ: 'secevent+jwt' })
      .sign(privateKey);
    const seen = received.length;

    const res = await fetch(`${resourceUrl}/caep`, {
      method: 'POST',
      headers: {
        'content-type': 'application/secevent+jwt',
        authorization: `Bearer ${RECEIVER_BEARER}`,
      },
      body: forged,
    });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toMatchObject({ err: 'authentication_failed' });
    expect(received.slice(seen).map((r) => r.result.ok)).toEqual([false]);

    const before = evaluations;
    expect((await getRecord(token)).status).toBe(200);
    expect(evaluations).toBe(before); // still the cached permit
  });

  it('refuses a push without the receiver bearer token, before looking at the SET', async () => {
    const seen = received.length;
    const res = await fetch(`${resourceUrl}/caep`, {
      method: 'POST',
      headers: { 'content-type': 'application/secevent+jwt' },
      body: 'a.b.c',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ err: 'authentication_failed' });
    expect(received.length).toBe(seen);
  });
});
