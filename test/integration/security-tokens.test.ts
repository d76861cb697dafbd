// The attack-token catalogue against AuthZEN evaluation, the refresh_token grant and RFC 7009 revocation: all refused, nothing stored.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttackToken } from '../support/attack-tokens.ts';
import {
  ADMIN_TOKEN,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  isActive,
  keysUnder,
  mintToken,
  oauthPost,
  refresh,
  type TokenBody,
  task,
} from '../support/broker.ts';
import {
  brokerAttackTokens,
  type KeyUrlWatch,
  watchKeyUrl,
} from '../support/broker-attack-tokens.ts';
import { postOnFreshConnection } from '../support/post-on-fresh-connection.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/**
 * Keys that checking a token may legitimately create: rate-limit and usage counters, and a grant's
 * index of its decision records (a correctly signed token moved to another audience is refused,
 * and that denial is recorded under its grant).
 */
const isCounter = (key: string) => /:rate:|:used:|:calls$|:denied$|:hist$/.test(key);

/**
 * Variants that only move `aud` are still the broker's own signature over the caller's own jti (a
 * white-box forgery no outsider can make); the audience is checked per resource at introspection,
 * so revoking by them revokes that jti, as RFC 7009 lets the owner do. They are left out here.
 */
const SAME_JTI_OWN_SIGNATURE = new Set([
  'claims:foreign-audience',
  'claims:audience-lookalike',
  'duplicate-member:payload-aud',
]);

describe('attack tokens at every endpoint that takes a token', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let valid: TokenBody;
  let tokens: AttackToken[];
  let watch: KeyUrlWatch;
  let before: string[];

  const evaluation = (token: string) => ({
    subject: { type: 'agent', id: agent.client_id, properties: { token } },
    action: { name: 'read' },
    resource: { type: 'resource', id: CRM },
    context: { ip: '203.0.113.9', step: 'read' },
  });
  const evaluate = async (body: unknown) => {
    const res = await fetch(`${broker.url}/access/v1/evaluation`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
      body: JSON.stringify(body),
    });
    return {
      status: res.status,
      body: (await res.json()) as { decision?: boolean; context?: unknown },
    };
  };
  const bodyLimit = () => broker.mandate.deps.loaded.config.server.body_limit_bytes;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url));
    valid = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-attack' })]);
    watch = await watchKeyUrl();
    tokens = await brokerAttackTokens(broker, valid.access_token, watch.url);
    before = (await keysUnder(broker.redisUrl, broker.prefix)).filter((k) => !isCounter(k));
  });

  afterAll(async () => {
    await watch?.close();
    await broker?.close();
  });

  it('the valid token is permitted (control)', async () => {
    expect(tokens.length).toBeGreaterThan(50);
    const res = await evaluate(evaluation(valid.access_token));
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe(true);
  });

  it('POST /access/v1/evaluation: every attack token is decision:false', async () => {
    const allowed: string[] = [];
    const odd: string[] = [];
    for (const { name, token } of tokens) {
      const body = JSON.stringify(evaluation(token));
      if (body.length > bodyLimit() - 1024) {
        const res = await postOnFreshConnection(`${broker.url}/access/v1/evaluation`, body, {
          'content-type': 'application/json',
          authorization: basicAuth(resource),
        });
        if (res !== 'closed' && (res.status !== 413 || !res.body.includes('"decision":false')))
          odd.push(`${name}: ${res.status} ${res.body}`);
        continue;
      }
      const res = await evaluate(JSON.parse(body));
      if (res.body.decision !== false) allowed.push(name);
      // 200 with a recorded deny; or 400 when the token is outside the request schema (empty, over 16 KiB).
      else if (!(res.status === 200 || res.status === 400)) odd.push(`${name}: ${res.status}`);
    }
    expect(allowed).toEqual([]);
    expect(odd).toEqual([]);
  });

  it('POST /access/v1/evaluations: a batch of attack tokens is all decision:false', async () => {
    const fit = tokens.filter((t) => t.token.length > 0 && t.token.length <= 16_384);
    for (let i = 0; i < fit.length; i += 25) {
      const chunk = fit.slice(i, i + 25);
      const res = await fetch(`${broker.url}/access/v1/evaluations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
        body: JSON.stringify({
          action: { name: 'read' },
          resource: { type: 'resource', id: CRM },
          evaluations: chunk.map((t) => ({
            subject: { type: 'agent', id: agent.client_id, properties: { token: t.token } },
          })),
        }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { evaluations: Array<{ decision: boolean }> };
      expect(body.evaluations).toHaveLength(chunk.length);
      expect(body.evaluations.filter((e) => e.decision !== false)).toEqual([]);
    }
  });

  it('grant_type=refresh_token with attack tokens and garbage: 400, no token minted', async () => {
    const garbage = [
      ...tokens.map((t) => t.token).filter((t) => t.length < bodyLimit() - 1024),
      valid.access_token,
      `mrt.${valid.grant_id}.${'A'.repeat(43)}`,
      `mrt.${valid.grant_id}.`,
      `mrt.g_forged.${'A'.repeat(43)}`,
      `mrt..${valid.refresh_token.split('.').pop()}`,
      `${valid.refresh_token}x`,
      valid.refresh_token.toUpperCase(),
      'mrt.*.*',
      "' OR 1=1 --",
      '\u0000',
    ];
    const odd: string[] = [];
    for (const rt of garbage) {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: rt },
        agent,
      );
      const fine =
        res.status === 400 &&
        (res.body.error === 'invalid_grant' || (res.body.error === 'invalid_request' && rt === ''));
      if (!fine || 'access_token' in res.body)
        odd.push(`${rt.slice(0, 40)}: ${res.status} ${res.text.slice(0, 200)}`);
    }
    expect(odd).toEqual([]);
    expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
  });

  it('RFC 7009 revocation with attack tokens: 200 each, nothing revoked', async () => {
    const odd: string[] = [];
    for (const { name, token } of tokens) {
      if (token.length > bodyLimit() - 1024 || token === '' || SAME_JTI_OWN_SIGNATURE.has(name))
        continue;
      for (const hint of [undefined, 'access_token', 'refresh_token']) {
        const res = await oauthPost(
          broker.url,
          '/oauth/revoke',
          { token, ...(hint ? { token_type_hint: hint } : {}) },
          agent,
        );
        if (res.status !== 200)
          odd.push(`${name} (${hint}): ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
    expect(odd).toEqual([]);
    expect([...SAME_JTI_OWN_SIGNATURE].filter((n) => !tokens.some((t) => t.name === n))).toEqual(
      [],
    );
    expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
  });

  it('the jku/x5u listener received no request', () => {
    expect(watch.fetched).toEqual([]);
  });

  it('nothing was stored (counters and decision records aside), the grant still refreshes, and /readyz is 200', async () => {
    await sleep(200); // decision records are written without waiting
    const after = (await keysUnder(broker.redisUrl, broker.prefix)).filter((k) => !isCounter(k));
    expect(after).toEqual(before);
    const grants = await fetch(`${broker.url}/admin/grants?client_id=${agent.client_id}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const listed = (await grants.json()) as { grants: Array<{ id: string; status: string }> };
    expect(listed.grants.map((g) => [g.id, g.status])).toEqual([[valid.grant_id, 'active']]);
    const again = await refresh(broker.url, agent, valid.refresh_token);
    expect(again.status).toBe(200);
    expect((await fetch(`${broker.url}/readyz`)).status).toBe(200);
  });
});
