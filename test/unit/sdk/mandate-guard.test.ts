// The resource guard: offline verification, AuthZEN/introspection decisions, the permit cache, failing closed.
import { beforeEach, describe, expect, it } from 'vitest';
import { createMandateGuard, type MandateGuardOptions } from '../../../src/client/mandate-guard.ts';
import { CRM, createFakeIssuer, type FakeIssuer, ISSUER, json } from './fake-issuer.ts';

const EVAL = 'POST /access/v1/evaluation';

let issuer: FakeIssuer;
let clockMs: number;

beforeEach(async () => {
  issuer = await createFakeIssuer();
  issuer.on(EVAL, () => json({ decision: true, context: { decision_id: 'd-1' } }));
  clockMs = Date.now();
});

function guardOf(over: Partial<MandateGuardOptions> = {}) {
  return createMandateGuard({
    issuer: ISSUER,
    clientId: 'crm-api',
    clientSecret: 's3cret:with colon',
    resource: CRM,
    action: 'read',
    fetch: issuer.fetch,
    now: () => clockMs,
    ...over,
  });
}

describe('createMandateGuard check', () => {
  it('permits a valid token the broker permits, sending the AuthZEN request as the resource client', async () => {
    const token = await issuer.sign();
    const result = await guardOf().check(`Bearer ${token}`, { context: { ip: '203.0.113.9' } });
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.claims.grant_id).toBe('g-1');
    const call = issuer.seen.find((r) => `${r.method} ${r.path}` === EVAL);
    expect(call?.json).toEqual({
      subject: { type: 'agent', id: 'agent-1', properties: { token } },
      action: { name: 'read' },
      resource: { type: 'resource', id: CRM },
      context: { ip: '203.0.113.9' },
    });
    const basic = call?.headers.get('authorization') ?? '';
    expect(Buffer.from(basic.replace(/^Basic /, ''), 'base64').toString()).toBe(
      'crm-api:s3cret%3Awith+colon',
    );
  });

  it('answers 403 insufficient_scope with an RFC 6750 challenge when the broker says no', async () => {
    issuer.on(EVAL, () => json({ decision: false }));
    const result = await guardOf().check(`Bearer ${await issuer.sign()}`, { action: 'delete' });
    expect(result).toMatchObject({ ok: false, status: 403, error: 'insufficient_scope' });
    if (!result.ok)
      expect(result.wwwAuthenticate).toMatch(
        /^Bearer realm="https:\/\/crm\.example\.com", error="insufficient_scope", error_description="[^"]+"$/,
      );
  });

  it.each([
    'grant_revoked',
    'grant_suspended',
    'grant_expired',
    'grant_missing',
    'token_revoked',
    'agent_disabled',
  ])('answers 401 invalid_token (RFC 6750 3.1) when the broker refuses with %s', async (code) => {
    issuer.on(EVAL, () => json({ decision: false, context: { reason_admin: { en: 'no', code } } }));
    const result = await guardOf().check(`Bearer ${await issuer.sign()}`);
    expect(result).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
    if (!result.ok) expect(result.wwwAuthenticate).toContain('error="invalid_token"');
  });

  it.each(['outside_grant', 'policy_denied', 'approval_required'])(
    'answers 403 insufficient_scope when the broker refuses with %s',
    async (code) => {
      issuer.on(EVAL, () =>
        json({ decision: false, context: { reason_admin: { en: 'no', code } } }),
      );
      const result = await guardOf().check(`Bearer ${await issuer.sign()}`);
      expect(result).toMatchObject({ ok: false, status: 403, error: 'insufficient_scope' });
    },
  );

  it('answers 503 when the broker says it could not check, never a verdict on the token', async () => {
    issuer.on(EVAL, () =>
      json({ decision: false, context: { reason_admin: { en: 'down', code: 'unavailable' } } }),
    );
    const result = await guardOf().check(`Bearer ${await issuer.sign()}`);
    expect(result).toMatchObject({ ok: false, status: 503, error: 'temporarily_unavailable' });
  });

  it('answers 401 without an error code when there is no Bearer credential', async () => {
    for (const header of [undefined, '', 'Basic abc']) {
      const result = await guardOf().check(header);
      expect(result).toMatchObject({ ok: false, status: 401, error: 'invalid_request' });
      if (!result.ok) expect(result.wwwAuthenticate).toBe(`Bearer realm="${CRM}"`);
    }
    expect(issuer.count(EVAL)).toBe(0);
  });

  it.each([
    ['another audience', { aud: 'https://mail.example.com' }, {}],
    ['another issuer', { iss: 'http://evil.test' }, {}],
    ['an expired token', { exp: Math.floor(Date.now() / 1000) - 60 }, {}],
    ['a token that is not at+jwt', {}, { typ: 'JWT' }],
  ])(
    'answers 401 invalid_token for %s without asking the broker',
    async (_name, claims, header) => {
      const result = await guardOf().check(`Bearer ${await issuer.sign(claims, header)}`);
      expect(result).toMatchObject({ ok: false, status: 401, error: 'invalid_token' });
      if (!result.ok) expect(result.wwwAuthenticate).toContain('error="invalid_token"');
      expect(issuer.count(EVAL)).toBe(0);
    },
  );

  it('answers 401 for a malformed Bearer header', async () => {
    expect(await guardOf().check('Bearer')).toMatchObject({
      ok: false,
      status: 401,
      error: 'invalid_token',
    });
    expect(await guardOf().check('Bearer a b')).toMatchObject({
      ok: false,
      status: 401,
      error: 'invalid_token',
    });
  });

  it('falls back to introspection once the evaluation endpoint answers 404', async () => {
    issuer.on(EVAL, () => json({ error: 'not found' }, 404));
    issuer.on('POST /oauth/introspect', (req) =>
      json(
        req.form.get('token')?.length
          ? {
              active: true,
              authorization_details: [
                { type: 'agent_task', task_id: 'T-1', actions: ['read'], locations: [CRM] },
              ],
            }
          : { active: false },
      ),
    );
    const guard = guardOf({ cacheTtlMs: 0 });
    const token = await issuer.sign();
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    expect(await guard.check(`Bearer ${token}`, { action: 'write' })).toMatchObject({
      ok: false,
      status: 403,
    });
    issuer.on('POST /oauth/introspect', () => json({ active: false }));
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({
      ok: false,
      status: 401,
      error: 'invalid_token',
    });
    expect(issuer.count(EVAL)).toBe(1);
    expect(issuer.count('POST /oauth/introspect')).toBe(3);
  });

  it('throws for a check with no action at all: a programming error, not a request error', async () => {
    const guard = guardOf({ action: undefined });
    await expect(guard.check('Bearer x')).rejects.toThrow(TypeError);
  });
});

describe('createMandateGuard fails closed', () => {
  it('never permits when every call to Mandate throws', async () => {
    const token = await issuer.sign();
    const guard = guardOf({
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    const result = await guard.check(`Bearer ${token}`);
    expect(result).toMatchObject({ ok: false, status: 503, error: 'temporarily_unavailable' });
  });

  it('never permits when only the evaluation call fails or answers 5xx', async () => {
    const token = await issuer.sign();
    issuer.on(EVAL, () => {
      throw new TypeError('socket hang up');
    });
    expect(await guardOf().check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 503 });
    issuer.on(EVAL, () => json({ title: 'boom' }, 500));
    expect(await guardOf().check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 503 });
    issuer.on(EVAL, () => json({ error: 'invalid_client' }, 401));
    expect(await guardOf().check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 503 });
  });

  it('never permits when the JWKS cannot be fetched', async () => {
    issuer.on('GET /.well-known/jwks.json', () => json({ error: 'down' }, 502));
    const result = await guardOf().check(`Bearer ${await issuer.sign()}`);
    expect(result).toMatchObject({ ok: false, status: 503 });
    expect(issuer.count(EVAL)).toBe(0);
  });

  it('refuses after close()', async () => {
    const guard = guardOf();
    const token = await issuer.sign();
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    guard.close();
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 503 });
  });
});

describe('createMandateGuard cache', () => {
  it('reuses a permit within the TTL and asks again after it', async () => {
    const guard = guardOf({ cacheTtlMs: 1000 });
    const token = await issuer.sign();
    await guard.check(`Bearer ${token}`);
    clockMs += 999;
    await guard.check(`Bearer ${token}`);
    expect(issuer.count(EVAL)).toBe(1);
    clockMs += 1;
    await guard.check(`Bearer ${token}`);
    expect(issuer.count(EVAL)).toBe(2);
  });

  it('counts a permit from when the question was sent and keeps 500 ms by default', async () => {
    const started = clockMs;
    // The broker takes 300 ms to answer: the permit lives 500 ms from the question, not the answer.
    issuer.on(EVAL, () => {
      clockMs += 300;
      return json({ decision: true });
    });
    const guard = guardOf({ cacheTtlMs: undefined });
    const header = `Bearer ${await issuer.sign()}`;
    expect((await guard.check(header)).ok).toBe(true);
    clockMs = started + 499;
    expect((await guard.check(header)).ok).toBe(true);
    expect(issuer.count(EVAL)).toBe(1);
    clockMs = started + 500;
    expect((await guard.check(header)).ok).toBe(true);
    expect(issuer.count(EVAL)).toBe(2);
  });

  it('drops every cached permit of a grant once the broker calls one of its tokens inactive', async () => {
    const guard = guardOf({ cacheTtlMs: 5000 });
    const header = `Bearer ${await issuer.sign()}`;
    expect((await guard.check(header)).ok).toBe(true);
    issuer.on(EVAL, () =>
      json({ decision: false, context: { reason_admin: { en: 'no', code: 'grant_revoked' } } }),
    );
    expect(await guard.check(header, { action: 'write' })).toMatchObject({ status: 401 });
    expect(await guard.check(header)).toMatchObject({ ok: false, status: 401 });
  });

  it('keys permits by action and context, and never caches a denial', async () => {
    const guard = guardOf();
    const token = await issuer.sign();
    await guard.check(`Bearer ${token}`, { action: 'read', context: { ip: '1.1.1.1', step: 'a' } });
    await guard.check(`Bearer ${token}`, { action: 'read', context: { step: 'a', ip: '1.1.1.1' } });
    expect(issuer.count(EVAL)).toBe(1);
    await guard.check(`Bearer ${token}`, { action: 'read', context: { ip: '2.2.2.2', step: 'a' } });
    await guard.check(`Bearer ${token}`, { action: 'write' });
    expect(issuer.count(EVAL)).toBe(3);
    issuer.on(EVAL, () => json({ decision: false }));
    await guard.check(`Bearer ${token}`, { action: 'delete' });
    await guard.check(`Bearer ${token}`, { action: 'delete' });
    expect(issuer.count(EVAL)).toBe(5);
  });

  it('holds at most cacheMax permits, dropping the least recently used', async () => {
    const guard = guardOf({ cacheMax: 3 });
    const tokens = await Promise.all([1, 2, 3, 4].map((n) => issuer.sign({ jti: `j${n}` })));
    for (const t of tokens.slice(0, 3)) await guard.check(`Bearer ${t}`);
    await guard.check(`Bearer ${tokens[0]}`); // hit: j1 becomes the most recent
    expect(issuer.count(EVAL)).toBe(3);
    await guard.check(`Bearer ${tokens[3]}`); // evicts j2
    await guard.check(`Bearer ${tokens[0]}`);
    await guard.check(`Bearer ${tokens[2]}`);
    expect(issuer.count(EVAL)).toBe(4);
    await guard.check(`Bearer ${tokens[1]}`);
    expect(issuer.count(EVAL)).toBe(5);
  });

  it('drops permits at once on invalidate by grant_id or jti, and through the event hook', async () => {
    let push: ((f: { grant_id?: string; jti?: string }) => void) | undefined;
    let unsubscribed = false;
    const guard = guardOf({
      revocationEvents: (invalidate) => {
        push = invalidate;
        return () => {
          unsubscribed = true;
        };
      },
    });
    const a = await issuer.sign({ grant_id: 'g-a', jti: 'ja' });
    const b = await issuer.sign({ grant_id: 'g-b', jti: 'jb' });
    await guard.check(`Bearer ${a}`);
    await guard.check(`Bearer ${b}`);
    expect(guard.invalidate({ grant_id: 'g-a' })).toBe(1);
    issuer.on(EVAL, () => json({ decision: false }));
    expect(await guard.check(`Bearer ${a}`)).toMatchObject({ ok: false, status: 403 });
    expect((await guard.check(`Bearer ${b}`)).ok).toBe(true);
    push?.({ jti: 'jb' });
    expect(await guard.check(`Bearer ${b}`)).toMatchObject({ ok: false });
    guard.close();
    expect(unsubscribed).toBe(true);
  });

  it('never serves a permit past the token expiry', async () => {
    const guard = guardOf({ cacheTtlMs: 5000 });
    const expSec = Math.floor(clockMs / 1000) + 2;
    const token = await issuer.sign({ exp: expSec });
    expect((await guard.check(`Bearer ${token}`)).ok).toBe(true);
    clockMs = expSec * 1000 + 1;
    expect(await guard.check(`Bearer ${token}`)).toMatchObject({ ok: false, status: 401 });
  });

  it('rejects a cache TTL above 5000 ms or a negative bound at creation', () => {
    expect(() => guardOf({ cacheTtlMs: 5001 })).toThrow(RangeError);
    expect(() => guardOf({ cacheMax: -1 })).toThrow(RangeError);
  });
});
