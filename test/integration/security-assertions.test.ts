// Bad client assertions and workload tokens at every endpoint that takes one: the RFC error, nothing stored, nothing logged that could replay them, and the lockout counts them.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  type AttackAssertion,
  attackAssertions,
  attackWorkloadTokens,
} from '../support/attack-assertions.ts';
import { admin, deleteKeysUnder, keysUnder, oauthPost, task } from '../support/broker.ts';
import { type KeyUrlWatch, watchKeyUrl } from '../support/broker-attack-tokens.ts';
import { clientAssertion, type LocalIssuer, startLocalIssuer } from '../support/local-issuer.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { freshWindow } from '../support/rate-window.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AUDIENCE = 'https://mandate.example.com';
const SA = 'system:serviceaccount:prod:billing';
/** Keys checking an assertion may create: rate-limit counters only. */
const isCounter = (key: string) => /:rate:/.test(key);

const assertionForm = (assertion: string, extra: Record<string, string>) => ({
  ...extra,
  client_assertion_type: ASSERTION_TYPE,
  client_assertion: assertion,
});

describe('attack assertions at the token, introspection and revocation endpoints', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('assertion-attacks');
  let proc: BrokerProcess;
  let key: LocalIssuer;
  let workload: LocalIssuer;
  let watch: KeyUrlWatch;
  let attacks: AttackAssertion[];
  let workloadAttacks: AttackAssertion[];
  let before: string[];
  const agentId = 'keyed-agent';
  const resourceId = 'keyed-resource';

  beforeAll(async () => {
    key = await startLocalIssuer({ alg: 'ES256' });
    workload = await startLocalIssuer({ alg: 'ES256' });
    watch = await watchKeyUrl();
    const config = {
      rate_limit: { auth_failures_per_minute: 10_000, auth_failures_per_source_per_minute: 10_000 },
      federation: {
        allow_http_loopback: true,
        issuers: [
          {
            id: 'k8s',
            issuer: workload.issuer,
            jwks_uri: workload.jwksUri,
            audience: AUDIENCE,
            subject_map: [{ match: { sub: SA }, client_id: agentId }],
          },
        ],
      },
      clients: [
        {
          client_id: agentId,
          name: 'agent',
          kind: 'agent',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
        },
        {
          client_id: resourceId,
          name: 'resource',
          kind: 'resource',
          resources: ['https://files.example.com'],
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
        },
      ],
    };
    proc = await spawnBrokerProcess({
      redisUrl,
      prefix,
      config: `${JSON.stringify(config)}\n`,
      env: { MANDATE_LOG_LEVEL: 'debug' },
    });
    attacks = await attackAssertions({
      key,
      clientId: agentId,
      audience: proc.url,
      keyUrl: watch.url,
    });
    workloadAttacks = await attackWorkloadTokens({
      issuer: workload,
      audience: AUDIENCE,
      mappedSub: SA,
    });
    // A replayed assertion: used once (successfully) before the store is looked at.
    const spent = await clientAssertion(key, agentId, proc.url);
    const first = await oauthPost(
      proc.url,
      '/oauth/token',
      assertionForm(spent, {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([
          task(['read'], { locations: ['https://files.example.com'] }),
        ]),
      }),
      undefined,
      'none',
    );
    expect(first.status, first.text).toBe(200);
    attacks.push({ name: 'replayed', assertion: spent });
    before = (await keysUnder(redisUrl, prefix)).filter((k) => !isCounter(k)).sort();
  }, 60_000);

  afterAll(async () => {
    await proc?.stop();
    await deleteKeysUnder(redisUrl, prefix);
    for (const c of [key, workload, watch]) await c?.close();
  });

  const endpoints = [
    [
      'token',
      '/oauth/token',
      {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([
          task(['read'], { locations: ['https://files.example.com'] }),
        ]),
      },
    ],
    ['introspection', '/oauth/introspect', { token: 'x.y.z' }],
    ['revocation', '/oauth/revoke', { token: 'mrt.g_x.y' }],
  ] as const;

  it('answers 401 invalid_client for every bad client assertion at every form endpoint', async () => {
    for (const [name, path, params] of endpoints) {
      for (const a of attacks) {
        const res = await oauthPost(
          proc.url,
          path,
          assertionForm(a.assertion, params),
          undefined,
          'none',
        );
        expect([name, a.name, res.status, res.body.error]).toEqual([
          name,
          a.name,
          401,
          'invalid_client',
        ]);
        expect(res.text).not.toContain(a.assertion.slice(-20));
      }
    }
    // Workload tokens as client assertions: the same code.
    for (const a of workloadAttacks) {
      const res = await oauthPost(
        proc.url,
        '/oauth/token',
        assertionForm(a.assertion, endpoints[0][2]),
        undefined,
        'none',
      );
      expect([a.name, res.status, res.body.error]).toEqual([a.name, 401, 'invalid_client']);
    }
  });

  it('answers 400 invalid_grant for every bad workload token as a jwt-bearer grant', async () => {
    for (const a of [...workloadAttacks, ...attacks]) {
      const res = await oauthPost(
        proc.url,
        '/oauth/token',
        {
          grant_type: JWT_BEARER,
          assertion: a.assertion,
          authorization_details: JSON.stringify([
            task(['read'], { locations: ['https://files.example.com'] }),
          ]),
        },
        undefined,
        'none',
      );
      expect([a.name, res.status, res.body.error]).toEqual([a.name, 400, 'invalid_grant']);
    }
  });

  it('stored nothing, fetched no jku/x5u, and logged no assertion text', async () => {
    const after = (await keysUnder(redisUrl, prefix)).filter((k) => !isCounter(k)).sort();
    expect(after).toEqual(before);
    expect(watch.fetched).toEqual([]);
    const grants = await admin<{ grants: unknown[] }>(proc.url, 'GET', '/admin/grants');
    expect(grants.body.grants).toHaveLength(1);
    const out = proc.output();
    expect(out).toContain('assertion refused');
    for (const a of [...attacks, ...workloadAttacks]) {
      // The signature (or the whole text, when short) would let the assertion be replayed.
      const tail = a.assertion.split('.')[2] || a.assertion;
      if (tail.length >= 16) expect(out, a.name).not.toContain(tail);
      expect(out, a.name).not.toContain(a.assertion);
    }
    const decisions = await admin(proc.url, 'GET', '/admin/decisions?limit=1000');
    for (const a of attacks) expect(decisions.text).not.toContain(a.assertion);
  });
});

describe('failed assertions count toward the auth-failure lockout', () => {
  const LIMIT = 3;
  let broker: TestBroker;
  let key: LocalIssuer;

  beforeAll(async () => {
    key = await startLocalIssuer();
    broker = await startTestBroker({
      config: `rate_limit: { auth_failures_per_minute: ${LIMIT}, auth_failures_per_source_per_minute: 1000 }\n`,
    });
    expect(
      (
        await admin(broker.url, 'POST', '/admin/clients', {
          client_id: 'locked-agent',
          name: 'agent',
          kind: 'agent',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: [key.publicJwk] },
        })
      ).status,
    ).toBe(201);
  });
  beforeEach(freshWindow);
  afterAll(async () => {
    await broker?.close();
    await key?.close();
  });

  it('blocks a client id after LIMIT refused assertions from one source, even a valid one then', async () => {
    const form = async (opts: Parameters<typeof clientAssertion>[3] = {}) =>
      assertionForm(await clientAssertion(key, 'locked-agent', broker.issuer, opts), {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([task(['read'])]),
      });
    for (let i = 0; i < LIMIT; i++) {
      const bad = await oauthPost(
        broker.url,
        '/oauth/token',
        await form({ claims: { aud: 'https://evil.example.com' } }),
        undefined,
        'none',
      );
      expect(bad.status).toBe(401);
    }
    const blocked = await oauthPost(broker.url, '/oauth/token', await form(), undefined, 'none');
    expect(blocked.status).toBe(429);
  });
});
