// Hostile and malformed input at every endpoint: RFC error codes, fail-closed introspection, nothing stored.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAttackTokens, rawEs256Signer } from '../support/attack-tokens.ts';
import {
  ADMIN_TOKEN,
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  type HttpResult,
  introspect,
  isActive,
  keysUnder,
  mintToken,
  oauthPost,
  type TokenBody,
  task,
} from '../support/broker.ts';
import { postOnFreshConnection } from '../support/post-on-fresh-connection.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const RFC_ERROR_FIELDS = new Set(['error', 'error_description', 'error_uri']);

/** An RFC 6749 5.2 error: JSON, never cached, only RFC members. */
function expectOAuthError(res: HttpResult, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  expect(res.body.error).toBe(code);
  for (const k of Object.keys(res.body)) expect(RFC_ERROR_FIELDS.has(k)).toBe(true);
  expect(res.body).not.toHaveProperty('access_token');
}

const decode = (seg: string) =>
  JSON.parse(Buffer.from(seg, 'base64url').toString()) as Record<string, unknown>;

describe('bad input', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let resource: Credentials;
  let valid: TokenBody;
  let publicJwk: JWK;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource } = await createClients(broker.url));
    valid = await mintToken(broker.url, agent, [task(['read'], { taskId: 'T-valid' })]);
    const jwks = (await (await fetch(`${broker.url}/.well-known/jwks.json`)).json()) as {
      keys: JWK[];
    };
    const kid = decode(valid.access_token.split('.')[0] as string).kid;
    publicJwk = jwks.keys.find((k) => k.kid === kid) as JWK;
  });

  /** The broker's own body limit (config `server.body_limit_bytes`). */
  const bodyLimit = () => broker.mandate.deps.loaded.config.server.body_limit_bytes;

  afterAll(async () => {
    await broker?.close();
  });

  describe('token endpoint', () => {
    const params = () => ({
      grant_type: 'client_credentials',
      authorization_details: JSON.stringify([task(['read'])]),
    });

    it('wrong secret: 401 invalid_client with WWW-Authenticate', async () => {
      const res = await oauthPost(broker.url, '/oauth/token', params(), {
        client_id: agent.client_id,
        client_secret: 'wrong-secret',
      });
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      const post = await oauthPost(
        broker.url,
        '/oauth/token',
        params(),
        { client_id: agent.client_id, client_secret: 'wrong-secret' },
        'post',
      );
      expectOAuthError(post, 401, 'invalid_client');
    });

    it('unknown client: 401 invalid_client', async () => {
      const res = await oauthPost(broker.url, '/oauth/token', params(), {
        client_id: 'nobody',
        client_secret: agent.client_secret,
      });
      expectOAuthError(res, 401, 'invalid_client');
    });

    it('no credentials: 401 invalid_client', async () => {
      const res = await oauthPost(broker.url, '/oauth/token', params());
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).not.toBeNull();
      const idOnly = await oauthPost(broker.url, '/oauth/token', {
        ...params(),
        client_id: agent.client_id,
      });
      expectOAuthError(idOnly, 401, 'invalid_client');
    });

    it('Basic and client_secret in the body together: invalid_request', async () => {
      const res = await oauthPost(
        broker.url,
        '/oauth/token',
        { ...params(), client_secret: agent.client_secret },
        agent,
        'basic',
      );
      expectOAuthError(res, 400, 'invalid_request');
    });

    it('a malformed Authorization header: 401 invalid_client', async () => {
      for (const header of [
        'Basic',
        'Basic !!!',
        `Bearer ${valid.access_token}`,
        `Basic ${Buffer.from('no-colon').toString('base64')}`,
      ]) {
        const res = await oauthPost(broker.url, '/oauth/token', params(), undefined, 'none', {
          authorization: header,
        });
        expectOAuthError(res, 401, 'invalid_client');
      }
    });

    it('a body that is not form-encoded: 400 invalid_request', async () => {
      for (const type of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
        const r = await fetch(`${broker.url}/oauth/token`, {
          method: 'POST',
          headers: { 'content-type': type, authorization: basicAuth(agent) },
          body: JSON.stringify(params()),
        });
        const res = {
          status: r.status,
          headers: r.headers,
          body: (await r.json()) as Record<string, unknown>,
          text: '',
        };
        expectOAuthError(res, 400, 'invalid_request');
      }
    });

    it('a body over the configured limit: 4xx in RFC 6749 JSON', async () => {
      const big = new URLSearchParams({
        ...params(),
        padding: 'a'.repeat(bodyLimit() + 1024),
      }).toString();
      const headers = {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(agent),
      };
      // With Content-Length, then chunked: the limit holds on the stream too.
      for (const chunked of [false, true]) {
        const res = await postOnFreshConnection(`${broker.url}/oauth/token`, big, headers, chunked);
        if (res === 'closed')
          throw new Error(`the broker hung up without an answer (chunked: ${chunked})`);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(res.type).toMatch(/^application\/json/);
        expect((JSON.parse(res.body) as { error: string }).error).toBe('invalid_request');
      }
    });

    it('a repeated parameter: invalid_request', async () => {
      const body = new URLSearchParams(params());
      body.append('grant_type', 'client_credentials');
      expectOAuthError(
        await oauthPost(broker.url, '/oauth/token', body, agent),
        400,
        'invalid_request',
      );
      const twice = new URLSearchParams(params());
      twice.append('authorization_details', JSON.stringify([task(['write'])]));
      expectOAuthError(
        await oauthPost(broker.url, '/oauth/token', twice, agent),
        400,
        'invalid_request',
      );
    });

    it('an unknown grant type: unsupported_grant_type; a missing one: invalid_request', async () => {
      expectOAuthError(
        await oauthPost(
          broker.url,
          '/oauth/token',
          { grant_type: 'password', username: 'u', password: 'p' },
          agent,
        ),
        400,
        'unsupported_grant_type',
      );
      expectOAuthError(
        await oauthPost(
          broker.url,
          '/oauth/token',
          { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' },
          agent,
        ),
        400,
        'unsupported_grant_type',
      );
      expectOAuthError(
        await oauthPost(
          broker.url,
          '/oauth/token',
          { authorization_details: params().authorization_details },
          agent,
        ),
        400,
        'invalid_request',
      );
    });

    it('a refresh without refresh_token: invalid_request; a garbage one: invalid_grant', async () => {
      expectOAuthError(
        await oauthPost(broker.url, '/oauth/token', { grant_type: 'refresh_token' }, agent),
        400,
        'invalid_request',
      );
      expectOAuthError(
        await oauthPost(
          broker.url,
          '/oauth/token',
          { grant_type: 'refresh_token', refresh_token: 'garbage' },
          agent,
        ),
        400,
        'invalid_grant',
      );
    });

    it('a resource that is not absolute: invalid_target', async () => {
      expectOAuthError(
        await oauthPost(broker.url, '/oauth/token', { ...params(), resource: 'crm' }, agent),
        400,
        'invalid_target',
      );
    });

    it('GET on the token endpoint is not a token request', async () => {
      const res = await fetch(`${broker.url}/oauth/token?grant_type=client_credentials`, {
        headers: { authorization: basicAuth(agent) },
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.text()).not.toContain('access_token');
    });
  });

  describe('introspection of tokens that are not ours', () => {
    let attacker: Awaited<ReturnType<typeof generateKeyPair>>;
    let claims: Record<string, unknown>;

    beforeAll(async () => {
      attacker = await generateKeyPair('ES256', { extractable: true });
      claims = decode(valid.access_token.split('.')[1] as string);
    });

    const expectInactive = async (token: string) => {
      const res = await introspect(broker.url, resource, token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
    };

    it('the valid token is active (control)', async () => {
      expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
    });

    it('alg none', async () => {
      const [h, p] = valid.access_token.split('.') as [string, string];
      const none = Buffer.from(JSON.stringify({ ...decode(h), alg: 'none' })).toString('base64url');
      await expectInactive(`${none}.${p}.`);
      await expectInactive(`${none}.${p}`);
    });

    it('signed by a different key under the real kid', async () => {
      const token = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: publicJwk.kid as string })
        .sign(attacker.privateKey);
      await expectInactive(token);
    });

    it("HS256 keyed with the broker's public JWK (the JSON bytes)", async () => {
      for (const jwkText of [
        JSON.stringify(publicJwk),
        JSON.stringify({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y }),
      ]) {
        const token = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: publicJwk.kid as string })
          .sign(new TextEncoder().encode(jwkText));
        await expectInactive(token);
      }
    });

    it('a foreign issuer, attacker-signed', async () => {
      const token = await new SignJWT({ ...claims, iss: 'https://attacker.invalid' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'attacker-1' })
        .sign(attacker.privateKey);
      await expectInactive(token);
    });

    it('the attack-token catalogue, re-signed with the real key where only a claim or header is wrong', async () => {
      // White-box: the broker's private key is in its Redis, so each variant fails only for the property under test.
      const redis = new Redis(broker.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      await redis.connect();
      const stored = JSON.parse(
        (await redis.hget(`${broker.prefix}keys`, `k:${publicJwk.kid}`)) as string,
      ) as { private_jwk: JWK };
      redis.disconnect();
      const fetched: string[] = [];
      const keyServer = createServer((req, res) => {
        fetched.push(req.url ?? '');
        res.end('{"keys":[]}');
      });
      await new Promise<void>((ok) => keyServer.listen(0, '127.0.0.1', () => ok()));
      try {
        const keyUrl = `http://127.0.0.1:${(keyServer.address() as AddressInfo).port}/jwks.json`;
        const tokens = await buildAttackTokens({
          validToken: valid.access_token,
          publicJwk,
          issuer: broker.issuer,
          audience: CRM,
          claims,
          keyUrl,
          resign: rawEs256Signer(stored.private_jwk),
          clockToleranceSec: 5,
        });
        expect(tokens.length).toBeGreaterThan(50);
        const accepted: string[] = [];
        const odd: string[] = [];
        for (const { name, token } of tokens) {
          if (token.length > bodyLimit() - 1024) {
            // Over the body limit: sent on its own connection, since the broker may answer and close mid-upload.
            const status = await postOnFreshConnection(
              `${broker.url}/oauth/introspect`,
              new URLSearchParams({ token }).toString(),
              {
                'content-type': 'application/x-www-form-urlencoded',
                authorization: basicAuth(resource),
              },
            );
            if (
              status !== 'closed' &&
              (status.status !== 400 || status.body.includes('"active":true'))
            )
              odd.push(`${name}: ${status.status} ${status.body}`);
            continue;
          }
          const res = await introspect(broker.url, resource, token);
          if (res.body.active === true) accepted.push(name);
          else if (res.status === 200 && JSON.stringify(res.body) === '{"active":false}') continue;
          // Only an empty token may be refused outright instead (RFC 6749 JSON: the parameter is required).
          else if (!(res.status === 400 && res.body.error === 'invalid_request' && token === ''))
            odd.push(`${name}: ${res.status} ${res.text}`);
        }
        expect(accepted).toEqual([]);
        expect(odd).toEqual([]);
        expect(fetched).toEqual([]);
      } finally {
        keyServer.close();
      }
    });

    it('stores nothing for any of them (decision records aside)', async () => {
      const before = await keysUnder(broker.redisUrl, broker.prefix);
      const [h, p] = valid.access_token.split('.') as [string, string];
      const forged = await new SignJWT({ ...claims, jti: 'forged-jti', grant_id: 'g_forged' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: publicJwk.kid as string })
        .sign(attacker.privateKey);
      await introspect(broker.url, resource, `${h}.${p}.`);
      await introspect(broker.url, resource, forged);
      await introspect(broker.url, resource, 'x'.repeat(20_000));
      await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'client_credentials', authorization_details: '[' },
        agent,
      );
      await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'client_credentials' },
        { client_id: agent.client_id, client_secret: 'nope' },
      );
      await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'refresh_token', refresh_token: `mrt.g_forged.${'A'.repeat(43)}` },
        agent,
      );
      await oauthPost(broker.url, '/oauth/revoke', { token: forged }, agent);
      await oauthPost(
        broker.url,
        '/oauth/revoke',
        { token: `mrt.${valid.grant_id}.${'A'.repeat(43)}` },
        agent,
      );
      await sleep(200); // decision records are written without waiting
      expect(await keysUnder(broker.redisUrl, broker.prefix)).toEqual(before);
      expect(await isActive(broker.url, resource, valid.access_token)).toBe(true);
    });
  });

  describe('an expired token', () => {
    let short: TestBroker;
    beforeAll(async () => {
      short = await startTestBroker({
        config: 'tokens:\n  access_ttl: 2\n  clock_tolerance: 0\n',
      });
    });
    afterAll(async () => {
      await short?.close();
    });

    it('is inactive once exp has passed, though its grant lives on', async () => {
      const { agent: a, resource: r } = await createClients(short.url);
      const tr = await mintToken(short.url, a, [task(['read'])]);
      expect(tr.expires_in).toBe(2);
      expect(await isActive(short.url, r, tr.access_token)).toBe(true);
      const exp = decode(tr.access_token.split('.')[1] as string).exp as number;
      await sleep(Math.max(0, exp * 1000 - Date.now()) + 1100);
      const res = await introspect(short.url, r, tr.access_token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ active: false });
      const grant = await admin<{ status: string }>(
        short.url,
        'GET',
        `/admin/grants/${tr.grant_id}`,
      );
      expect(grant.body.status).toBe('active');
    });
  });

  describe('admin API', () => {
    it('an oversized body: 413 problem+json', async () => {
      const body = JSON.stringify({
        name: 'x',
        kind: 'agent',
        attributes: { pad: 'a'.repeat(bodyLimit() + 1024) },
      });
      const res = await postOnFreshConnection(`${broker.url}/admin/clients`, body, {
        'content-type': 'application/json',
        authorization: `Bearer ${ADMIN_TOKEN}`,
      });
      if (res === 'closed') throw new Error('the broker hung up without an answer');
      expect(res.status).toBe(413);
      expect(res.type).toMatch(/^application\/problem\+json/);
      expect(JSON.parse(res.body)).toMatchObject({ status: 413 });
    });
  });
});
