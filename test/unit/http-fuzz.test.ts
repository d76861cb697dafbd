// Random bodies, content types and header values at every write endpoint: never a 5xx, and the broker stays healthy.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  isActive,
  mintToken,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const RUNS = 200;
const ENDPOINTS = [
  '/oauth/token',
  '/oauth/introspect',
  '/oauth/revoke',
  '/access/v1/evaluation',
  '/access/v1/evaluations',
  '/v1/signals',
  '/admin/clients',
] as const;
const PARAMS = [
  'grant_type',
  'client_id',
  'client_secret',
  'authorization_details',
  'resource',
  'scope',
  'refresh_token',
  'token',
  'token_type_hint',
  'auth_req_id',
];
const GRANT_TYPES = [
  'client_credentials',
  'refresh_token',
  'urn:openid:params:grant-type:ciba',
  'password',
  '',
];
const TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/json',
  'application/json; charset=latin1',
  'APPLICATION/JSON',
  'text/plain',
  'multipart/form-data; boundary=x',
  'application/jwt',
  '',
];

/** Header-safe text (visible ASCII and space). */
const headerText = fc.stringMatching(/^[\x20-\x7e]{0,120}$/);
const anyText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.json({ maxDepth: 3 }),
);

describe('HTTP fuzz', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let valid: TokenBody;

  beforeAll(async () => {
    broker = await startTestBroker({
      // Failures are the point here: keep the limiter out of the way so every request reaches its handler.
      config:
        'rate_limit:\n  auth_failures_per_minute: 1000000\n  invalid_tokens_per_minute: 1000000\n',
    });
    ({ agent, resource } = await createClients(broker.url));
    valid = await mintToken(broker.url, agent, [task(['read'])]);
  });
  afterAll(async () => {
    await broker?.close();
  });

  const authorization = () =>
    fc.oneof(
      fc.constant(undefined),
      fc.constant(basicAuth(agent)),
      fc.constant(basicAuth(resource)),
      fc.constant(`Bearer ${ADMIN_TOKEN}`),
      headerText,
      headerText.map((t) => `Basic ${Buffer.from(t).toString('base64')}`),
      headerText.map((t) => `Bearer ${t}`),
    );

  const formBody = fc
    .array(
      fc.tuple(
        fc.oneof(fc.constantFrom(...PARAMS), fc.string({ maxLength: 20 })),
        fc.oneof(
          anyText,
          fc.constantFrom(...GRANT_TYPES),
          fc.constant(JSON.stringify([task(['read'])])),
          fc.constant(null).map(() => valid.access_token),
        ),
      ),
      { maxLength: 8 },
    )
    .map((pairs) => new URLSearchParams(pairs).toString());

  const jsonBody = fc.oneof(
    fc.json({ maxDepth: 5 }),
    fc
      .record(
        {
          subject: fc.oneof(
            fc.anything(),
            fc.record({ type: anyText, id: anyText, properties: fc.record({ token: anyText }) }),
          ),
          action: fc.oneof(fc.anything(), fc.record({ name: anyText })),
          resource: fc.oneof(
            fc.anything(),
            fc.record({ type: anyText, id: fc.oneof(anyText, fc.constant(CRM)) }),
          ),
          context: fc.anything(),
          evaluations: fc.oneof(fc.anything(), fc.array(fc.anything(), { maxLength: 5 })),
          grant_id: anyText,
          type: anyText,
          name: anyText,
          kind: fc.constantFrom('agent', 'resource', 'robot'),
          resources: fc.array(anyText, { maxLength: 3 }),
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 300 }),
  );

  for (const path of ENDPOINTS) {
    it(`POST ${path}: ${RUNS} random requests, never a 5xx`, async () => {
      const failures: string[] = [];
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...TYPES),
          fc.oneof(formBody, jsonBody),
          authorization(),
          fc.dictionary(
            fc.constantFrom('x-forwarded-for', 'accept', 'dpop', 'x-request-id', 'accept-encoding'),
            headerText,
            { maxKeys: 3 },
          ),
          async (type, body, auth, extra) => {
            const headers: Record<string, string> = { ...extra };
            if (type) headers['content-type'] = type;
            if (auth !== undefined) headers.authorization = auth;
            const res = await fetch(`${broker.url}${path}`, { method: 'POST', headers, body });
            const text = await res.text();
            if (res.status >= 500)
              failures.push(
                `${res.status} ${type} ${auth?.slice(0, 20)} ${body.slice(0, 200)} -> ${text.slice(0, 200)}`,
              );
            return res.status < 500;
          },
        ),
        { numRuns: RUNS },
      );
      expect(failures).toEqual([]);
    });
  }

  it('the broker is still healthy and still checks tokens', async () => {
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${broker.url}/readyz`)).status).toBe(200);
    // The fuzz may legitimately have revoked `valid` (the agent's own token posted to /oauth/revoke): check a fresh one.
    const fresh = await mintToken(broker.url, agent, [task(['read'])]);
    expect(await isActive(broker.url, resource, fresh.access_token)).toBe(true);
    const t = fresh.access_token;
    const forged = `${t.slice(0, -10)}${t.at(-10) === 'A' ? 'B' : 'A'}${t.slice(-9)}`;
    expect(await isActive(broker.url, resource, forged)).toBe(false);
  });
});
