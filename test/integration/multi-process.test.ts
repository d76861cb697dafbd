// Two broker processes on one Redis: what one revokes, the other refuses on its very next request.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  admin,
  type Credentials,
  createClient,
  createClients,
  isActive,
  mintToken,
  oauthPost,
  refresh,
  requestToken,
  task,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

describe('multi-process revocation', () => {
  let a: TestBroker;
  let b: BrokerProcess;
  let agent: Credentials;
  let resource: Credentials;

  beforeAll(async () => {
    const redisUrl = inject('redisUrl');
    const prefix = uniquePrefix('multi-process');
    // Both share the issuer, as processes behind one load balancer would.
    a = await startTestBroker({ prefix });
    b = await spawnBrokerProcess({ redisUrl, prefix, env: { MANDATE_ISSUER: a.issuer } });
    ({ agent, resource } = await createClients(a.url));
  });

  afterAll(async () => {
    await b?.stop();
    await a?.close();
  });

  it('B serves the same keys and accepts a token minted by A', async () => {
    const jwksA = await (await fetch(`${a.url}/.well-known/jwks.json`)).json();
    const jwksB = await (await fetch(`${b.url}/.well-known/jwks.json`)).json();
    expect(jwksB).toEqual(jwksA);
    const tr = await mintToken(a.url, agent, [task(['read'])]);
    expect(await isActive(b.url, resource, tr.access_token)).toBe(true);
  });

  it('an admin revocation through A is inactive at B on the very next request', async () => {
    const tr = await mintToken(a.url, agent, [task(['read'])]);
    expect(await isActive(b.url, resource, tr.access_token)).toBe(true);
    const res = await admin(a.url, 'POST', '/admin/revocations', {
      grant_id: tr.grant_id,
      reason: 'test',
    });
    expect(res.status).toBe(200);
    expect(await isActive(b.url, resource, tr.access_token)).toBe(false);
  });

  it('a client revocation (RFC 7009) at B is inactive at A on the very next request', async () => {
    const tr = await mintToken(a.url, agent, [task(['read'])]);
    expect(await isActive(a.url, resource, tr.access_token)).toBe(true);
    const res = await oauthPost(
      b.url,
      '/oauth/revoke',
      { token: tr.access_token, token_type_hint: 'access_token' },
      agent,
    );
    expect(res.status).toBe(200);
    expect(await isActive(a.url, resource, tr.access_token)).toBe(false);
  });

  it('a refresh token used at A and replayed at B revokes the grant everywhere', async () => {
    const tr = await mintToken(a.url, agent, [task(['read'])]);
    const next = await refresh(a.url, agent, tr.refresh_token);
    expect(next.status).toBe(200);
    const replay = await refresh(b.url, agent, tr.refresh_token);
    expect(replay.body.error).toBe('invalid_grant');
    expect(await isActive(a.url, resource, next.body.access_token)).toBe(false);
    expect(await isActive(b.url, resource, next.body.access_token)).toBe(false);
  });

  it('a client disabled through A is refused by B on the next request, and its tokens are inactive there', async () => {
    const doomed = await createClient(a.url, { name: 'doomed', kind: 'agent', groups: [] });
    // B authenticates it once, so B holds it in its cache.
    const tr = await mintToken(b.url, doomed, [task(['read'])]);
    const res = await admin(a.url, 'PATCH', `/admin/clients/${doomed.client_id}`, {
      disabled: true,
    });
    expect(res.status).toBe(200);
    expect(await isActive(b.url, resource, tr.access_token)).toBe(false);
    const again = await requestToken(b.url, doomed, [task(['read'])]);
    expect(again.status).toBe(401);
    expect(again.body.error).toBe('invalid_client');
  });
});
