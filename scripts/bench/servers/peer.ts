// Peer server: oidc-provider (v9) issuing ES256 JWT access tokens by client_credentials, with introspection on Redis.
import { createServer } from 'node:http';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair } from 'jose';
import { errors, Provider } from 'oidc-provider';
import { createRedisAdapter } from './redis-adapter.ts';

/** Tokens for this resource are ES256 JWTs, like Mandate's. */
const JWT_RESOURCE = 'https://crm.example.com';
/** oidc-provider refuses to introspect JWTs, so the introspection scenario uses opaque tokens for this resource. */
const OPAQUE_RESOURCE = 'https://opaque.example.com';
const AGENT = 'bench-agent';
const RESOURCE_CLIENT = 'bench-rs';

const port = Number(process.env.PORT);
const redis = new Redis(process.env.REDIS_URL ?? '', { commandTimeout: 1000 });
const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'peer', alg: 'ES256', use: 'sig' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  adapter: createRedisAdapter(redis, process.env.BENCH_REDIS_PREFIX ?? 'bench:peer:'),
  jwks: { keys: [jwk] },
  cookies: { keys: [process.env.PEER_COOKIE_KEY ?? 'bench-cookie-key-not-secret'] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  clients: [
    {
      client_id: AGENT,
      client_secret: process.env.PEER_AGENT_SECRET,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: RESOURCE_CLIENT,
      client_secret: process.env.PEER_RS_SECRET,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  ttl: { ClientCredentials: 300 },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      // Like Mandate's audience rule: only the resource client, only for tokens meant for its resource.
      allowedPolicy: (
        _ctx: unknown,
        client: { clientId: string },
        token: { aud?: string | string[] },
      ) => client.clientId === RESOURCE_CLIENT && [token.aud].flat().includes(OPAQUE_RESOURCE),
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => JWT_RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx: unknown, resource: string) => {
        if (resource === JWT_RESOURCE) {
          return {
            scope: 'read',
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        }
        if (resource === OPAQUE_RESOURCE) {
          return {
            scope: 'read',
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'opaque',
          };
        }
        throw new errors.InvalidTarget();
      },
    },
  },
});

createServer(provider.callback()).listen(port, '127.0.0.1');
