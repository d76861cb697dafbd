// Agents without a secret end to end: `mandate clients add --auth-method private_key_jwt --jwks-file`, `token get --private-key-file`, and createMandateClient({ clientId, privateKey }).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMandateClient } from '../../src/client/mandate-client.ts';
import { ADMIN_TOKEN, CRM, createClient, isActive } from '../support/broker.ts';
import { runMandate } from '../support/run-cli.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;
let dir: string;

const mandate = (args: string[]) => runMandate(broker.url, args);

beforeAll(async () => {
  broker = await startTestBroker();
  dir = await mkdtemp(join(tmpdir(), 'mandate-pkjwt-'));
});

afterAll(async () => {
  await broker?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the CLI without a secret', () => {
  it('registers a key pair from a private JWK file and gets a token signed with it', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'cli-key-1', alg: 'ES256' };
    const keyFile = join(dir, 'agent.jwk.json');
    await writeFile(keyFile, JSON.stringify(jwk));
    const added = await mandate([
      '--json',
      'clients',
      'add',
      '--name',
      'cli keyed agent',
      '--kind',
      'agent',
      '--client-id',
      'cli-keyed',
      '--auth-method',
      'private_key_jwt',
      '--jwks-file',
      keyFile,
    ]);
    expect(added.code, added.err).toBe(0);
    const created = JSON.parse(added.out) as {
      client_secret?: string;
      client: { jwks: { keys: Record<string, unknown>[] } };
    };
    expect(created.client_secret).toBeUndefined();
    // Only the public half was sent.
    expect(created.client.jwks.keys[0]?.d).toBeUndefined();
    const token = await mandate([
      '--json',
      'token',
      'get',
      '--client-id',
      'cli-keyed',
      '--private-key-file',
      keyFile,
      '--task',
      'T-cli',
      '--action',
      'read',
      '--location',
      CRM,
    ]);
    expect(token.code, token.err).toBe(0);
    const body = JSON.parse(token.out) as { access_token: string };
    const resource = await createClient(broker.url, {
      name: 'crm',
      kind: 'resource',
      resources: [CRM],
    });
    expect(await isActive(broker.url, resource, body.access_token)).toBe(true);
    // A human rendering says there is no secret.
    const human = await mandate([
      'clients',
      'add',
      '--name',
      'x',
      '--kind',
      'agent',
      '--jwks-file',
      keyFile,
    ]);
    expect(human.code, human.err).toBe(0);
    expect(human.out).toContain('no secret');
  });
});

describe('the SDK without a secret', () => {
  it('createMandateClient({ clientId, privateKey }) runs a task with PEM and JWK keys', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicJwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'sdk-rsa', alg: 'PS256' };
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const edPublic = { ...(await exportJWK(ed.publicKey)), kid: 'sdk-ed' };
    const edPrivate = { ...(await exportJWK(ed.privateKey)), kid: 'sdk-ed' };
    for (const [id, jwks] of [
      ['sdk-rsa-agent', [publicJwk]],
      ['sdk-ed-agent', [edPublic]],
    ] as const) {
      const res = await fetch(`${broker.url}/admin/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          client_id: id,
          name: id,
          kind: 'agent',
          token_endpoint_auth_method: 'private_key_jwt',
          jwks: { keys: jwks },
        }),
      });
      expect(res.status).toBe(201);
    }
    const resource = await createClient(broker.url, {
      name: 'crm',
      kind: 'resource',
      resources: [CRM],
    });
    const clients = [
      createMandateClient({
        issuer: broker.issuer,
        clientId: 'sdk-rsa-agent',
        privateKey: pem,
        algorithm: 'PS256',
        keyId: 'sdk-rsa',
      }),
      createMandateClient({
        issuer: broker.issuer,
        clientId: 'sdk-ed-agent',
        privateKey: edPrivate,
      }),
    ];
    for (const sdk of clients) {
      const handle = await sdk.startTask({ task_id: 'T-sdk', actions: ['read'], locations: [CRM] });
      const token = await handle.getToken();
      expect(await isActive(broker.url, resource, token)).toBe(true);
      await handle.end();
      expect(await isActive(broker.url, resource, token)).toBe(false);
    }
  });

  it('refuses both or neither of clientSecret and privateKey', () => {
    expect(() => createMandateClient({ issuer: broker.issuer, clientId: 'a' })).toThrow(TypeError);
    expect(() =>
      createMandateClient({
        issuer: broker.issuer,
        clientId: 'a',
        clientSecret: 's',
        privateKey: 'k',
      }),
    ).toThrow(TypeError);
  });
});
