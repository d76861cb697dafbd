// CAEP push to the resource guard: verified SETs drop cached permits at once, anything else changes nothing.
import { Hono } from 'hono';
import { generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createMandateGuard,
  handleSecurityEventRequest,
  MAX_SET_BYTES,
  type MandateGuardOptions,
} from '../../../src/client/guard.ts';
import { mandateEventReceiver } from '../../../src/client/hono.ts';
import { CRM, createFakeIssuer, type FakeIssuer, ISSUER, json } from './fake-issuer.ts';

const EVAL = 'POST /access/v1/evaluation';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const CLAIMS_CHANGE = 'https://schemas.openid.net/secevent/caep/event-type/token-claims-change';
const SET_TYPE = 'application/secevent+jwt';

let issuer: FakeIssuer;

beforeEach(async () => {
  issuer = await createFakeIssuer();
  issuer.on(EVAL, () => json({ decision: true }));
});

function guardOf(over: Partial<MandateGuardOptions> = {}) {
  return createMandateGuard({
    issuer: ISSUER,
    clientId: 'crm-api',
    clientSecret: 'secret',
    resource: CRM,
    action: 'read',
    cacheTtlMs: 5000,
    fetch: issuer.fetch,
    ...over,
  });
}

/** The claims of a CAEP SET as Mandate pushes it, about `grantId`. */
function setClaims(grantId: string, type = SESSION_REVOKED, over: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: CRM,
    iat: Math.floor(Date.now() / 1000),
    jti: `set-${Math.random().toString(36).slice(2)}`,
    events: { [type]: { subject: { format: 'opaque', id: grantId }, event_timestamp: 1 } },
    // The fake signs access-token claims by default; a SET carries none of them.
    exp: undefined,
    sub: undefined,
    client_id: undefined,
    grant_id: undefined,
    authorization_details: undefined,
    ...over,
  };
}

const signSet = (claims: JWTPayload) => issuer.sign(claims, { typ: 'secevent+jwt' });

/** A guard with permits cached for grants g-a and g-b; returns their tokens. */
async function primed(guard = guardOf()) {
  const a = await issuer.sign({ grant_id: 'g-a' });
  const b = await issuer.sign({ grant_id: 'g-b' });
  expect((await guard.check(`Bearer ${a}`)).ok).toBe(true);
  expect((await guard.check(`Bearer ${b}`)).ok).toBe(true);
  expect(issuer.count(EVAL)).toBe(2);
  return { guard, a, b };
}

describe('guard.receiveSecurityEvent', () => {
  it.each([
    ['session-revoked', SESSION_REVOKED],
    ['token-claims-change', CLAIMS_CHANGE],
  ])('drops the permits of the grant a verified %s SET names, and only those', async (_n, type) => {
    const { guard, a, b } = await primed();
    const result = await guard.receiveSecurityEvent(await signSet(setClaims('g-a', type)));
    expect(result).toEqual({ ok: true, grantId: 'g-a', invalidated: 1 });
    issuer.on(EVAL, () => json({ decision: false }));
    expect(await guard.check(`Bearer ${a}`)).toMatchObject({ ok: false, status: 403 });
    expect((await guard.check(`Bearer ${b}`)).ok).toBe(true);
    expect(issuer.count(EVAL)).toBe(3);
  });

  it('reads an SSF top-level sub_id when the event carries no subject', async () => {
    const { guard } = await primed();
    const claims = setClaims('ignored', SESSION_REVOKED, {
      sub_id: { format: 'opaque', id: 'g-b' },
      events: { [SESSION_REVOKED]: { event_timestamp: 1 } },
    });
    expect(await guard.receiveSecurityEvent(await signSet(claims))).toMatchObject({
      ok: true,
      grantId: 'g-b',
    });
  });

  it('checks the audience given as eventAudience instead of the resource', async () => {
    const { guard } = await primed(guardOf({ eventAudience: 'urn:rs:crm' }));
    expect(
      await guard.receiveSecurityEvent(
        await signSet(setClaims('g-a', SESSION_REVOKED, { aud: CRM })),
      ),
    ).toMatchObject({ ok: false, err: 'invalid_audience' });
    expect(
      await guard.receiveSecurityEvent(
        await signSet(setClaims('g-a', SESSION_REVOKED, { aud: 'urn:rs:crm' })),
      ),
    ).toMatchObject({ ok: true, invalidated: 1 });
  });

  it('refuses a SET signed by another key and keeps every permit', async () => {
    const { guard, a } = await primed();
    const { privateKey } = await generateKeyPair('ES256');
    for (const kid of ['k1', 'not-a-broker-key']) {
      const forged = await new SignJWT(setClaims('g-a'))
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'secevent+jwt' })
        .sign(privateKey);
      expect(await guard.receiveSecurityEvent(forged)).toMatchObject({
        ok: false,
        err: kid === 'k1' ? 'authentication_failed' : 'invalid_key',
      });
    }
    expect((await guard.check(`Bearer ${a}`)).ok).toBe(true);
    expect(issuer.count(EVAL)).toBe(2);
  });

  it.each([
    [
      'another issuer',
      setClaims('g-a', SESSION_REVOKED, { iss: 'http://evil.test' }),
      undefined,
      'invalid_issuer',
    ],
    [
      'another audience',
      setClaims('g-a', SESSION_REVOKED, { aud: 'https://mail.example.com' }),
      undefined,
      'invalid_audience',
    ],
    ['an access token (typ at+jwt)', setClaims('g-a'), 'at+jwt', 'invalid_request'],
    [
      'an unknown event type',
      setClaims('g-a', 'https://example.com/event/other'),
      undefined,
      'invalid_request',
    ],
    [
      'an email subject',
      setClaims('g-a', SESSION_REVOKED, {
        events: { [SESSION_REVOKED]: { subject: { format: 'email', email: 'a@b.c' } } },
      }),
      undefined,
      'invalid_request',
    ],
    [
      'no events claim',
      setClaims('g-a', SESSION_REVOKED, { events: undefined }),
      undefined,
      'invalid_request',
    ],
  ])('refuses a SET with %s and changes nothing', async (_n, claims, typ, err) => {
    const { guard, a } = await primed();
    const set = await issuer.sign(claims, { typ: typ ?? 'secevent+jwt' });
    expect(await guard.receiveSecurityEvent(set)).toMatchObject({ ok: false, err });
    expect((await guard.check(`Bearer ${a}`)).ok).toBe(true);
    expect(issuer.count(EVAL)).toBe(2);
  });

  it('refuses garbage without asking for keys it cannot use', async () => {
    const { guard } = await primed();
    for (const body of ['', 'not a jwt', 'a.b.c', 'x'.repeat(MAX_SET_BYTES + 1)])
      expect(await guard.receiveSecurityEvent(body)).toMatchObject({
        ok: false,
        err: 'invalid_request',
      });
  });

  it('says temporarily_unavailable when the keys cannot be fetched, so the push is retried', async () => {
    const guard = guardOf();
    issuer.on('GET /.well-known/jwks.json', () => json({ error: 'down' }, 502));
    expect(await guard.receiveSecurityEvent(await signSet(setClaims('g-a')))).toMatchObject({
      ok: false,
      err: 'temporarily_unavailable',
    });
  });

  it('does not cache a permit whose broker answer was in flight when the event arrived', async () => {
    const guard = guardOf();
    const token = await issuer.sign({ grant_id: 'g-a' });
    let release: (() => void) | undefined;
    const answered = new Promise<void>((ok) => {
      release = ok;
    });
    let calls = 0;
    issuer.on(EVAL, async () => {
      calls += 1;
      if (calls === 1) await answered; // permitted just before the revocation
      return json({ decision: calls === 1 });
    });
    const inFlight = guard.check(`Bearer ${token}`);
    while (calls === 0) await new Promise((ok) => setTimeout(ok, 1));
    expect(await guard.receiveSecurityEvent(await signSet(setClaims('g-a')))).toMatchObject({
      ok: true,
      invalidated: 0,
    });
    release?.();
    expect((await inFlight).ok).toBe(true);
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 403 });
    expect(calls).toBe(2);
  });
});

describe('handleSecurityEventRequest', () => {
  it('answers 202 with no body for a verified SET', async () => {
    const { guard } = await primed();
    const answer = await handleSecurityEventRequest(guard, {
      headers: { 'content-type': `${SET_TYPE}; charset=utf-8` },
      body: await signSet(setClaims('g-a')),
    });
    expect(answer).toMatchObject({ status: 202, body: '', result: { ok: true, grantId: 'g-a' } });
  });

  it('refuses a wrong content type with 400 invalid_request before verifying anything', async () => {
    const guard = guardOf();
    const answer = await handleSecurityEventRequest(guard, {
      headers: new Headers({ 'content-type': 'application/jwt' }),
      body: await signSet(setClaims('g-a')),
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body)).toMatchObject({ err: 'invalid_request' });
    expect(issuer.count('GET /.well-known/jwks.json')).toBe(0);
  });

  it('requires the configured bearer token, and compares it exactly', async () => {
    const { guard, a } = await primed();
    const body = await signSet(setClaims('g-a'));
    for (const authorization of [undefined, 'Bearer wrong-token', 'Basic cnMtYmVhcmVy']) {
      const answer = await handleSecurityEventRequest(
        guard,
        { headers: { 'content-type': SET_TYPE, authorization }, body },
        { authorization: 'rs-bearer' },
      );
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body)).toEqual({
        err: 'authentication_failed',
        description: expect.any(String),
      });
    }
    expect((await guard.check(`Bearer ${a}`)).ok).toBe(true);
    const ok = await handleSecurityEventRequest(
      guard,
      { headers: { 'content-type': SET_TYPE, authorization: 'Bearer rs-bearer' }, body },
      { authorization: 'rs-bearer' },
    );
    expect(ok.status).toBe(202);
  });
});

describe('mandateEventReceiver (Hono)', () => {
  function appOf() {
    const guard = guardOf();
    const app = new Hono();
    app.post('/caep', mandateEventReceiver(guard));
    return { app, guard };
  }

  it('answers 202 and the next check asks Mandate again', async () => {
    const { app, guard } = appOf();
    const token = await issuer.sign({ grant_id: 'g-a' });
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    const res = await app.request('/caep', {
      method: 'POST',
      headers: { 'content-type': SET_TYPE },
      body: await signSet(setClaims('g-a')),
    });
    expect(res.status).toBe(202);
    expect(await res.text()).toBe('');
    issuer.on(EVAL, () => json({ decision: false }));
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 403 });
  });

  it('answers 400 with an RFC 8935 body for a forged SET, a wrong type or an oversized body', async () => {
    const { app } = appOf();
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(setClaims('g-a'))
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'secevent+jwt' })
      .sign(privateKey);
    const cases: Array<[RequestInit, string]> = [
      [{ headers: { 'content-type': SET_TYPE }, body: forged }, 'authentication_failed'],
      [{ headers: { 'content-type': 'text/plain' }, body: forged }, 'invalid_request'],
      [{ body: forged }, 'invalid_request'],
      [
        { headers: { 'content-type': SET_TYPE }, body: 'x'.repeat(MAX_SET_BYTES + 10) },
        'invalid_request',
      ],
      [
        // no content-length: the stream is cut off after the limit
        {
          headers: { 'content-type': SET_TYPE },
          body: new ReadableStream({
            pull(ctl) {
              ctl.enqueue(new Uint8Array(16 * 1024).fill(0x61));
            },
          }),
          duplex: 'half',
        } as RequestInit,
        'invalid_request',
      ],
    ];
    for (const [init, err] of cases) {
      const res = await app.request('/caep', { method: 'POST', ...init });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/json');
      expect(await res.json()).toMatchObject({ err });
    }
  });
});
