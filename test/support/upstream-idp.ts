// An upstream OpenID Provider for the person sign-in tests: oidc-provider in this process, its dev login and consent forms, on a free port.
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { Provider } from 'oidc-provider';
import { admin, type Credentials, type HttpResult } from './broker.ts';
import { freePort } from './redis-server.ts';
import { startTestBroker, type TestBroker } from './test-broker.ts';

export interface UpstreamIdp {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** YAML of `login.oidc` for a broker whose callback is registered here. */
  readonly loginConfig: string;
  close(): Promise<void>;
}

/** Groups each test person holds (the ID token's `groups` claim). */
export const PERSON_GROUPS: Record<string, string[]> = {
  alice: ['support'],
  bob: ['sales'],
};

/**
 * Starts oidc-provider with one confidential client (Mandate, redirect `callbackUri`), ES256 ID
 * tokens carrying `name` and `groups`, and its development interactions: any login name signs in.
 */
export async function startUpstreamIdp(callbackUri: string): Promise<UpstreamIdp> {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const clientId = 'mandate';
  const clientSecret = 'upstream-secret-for-tests-0123456789';
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'idp', alg: 'ES256', use: 'sig' };
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    cookies: { keys: ['upstream-cookie-key-for-tests'] },
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [callbackUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    claims: { openid: ['sub'], profile: ['name', 'groups'], email: ['email'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({
        sub: id,
        name: `${id[0]?.toUpperCase()}${id.slice(1)} Example`,
        groups: PERSON_GROUPS[id] ?? [],
      }),
    }),
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    issuer,
    clientId,
    clientSecret,
    loginConfig: `login:\n  oidc:\n    issuer: ${issuer}\n    client_id: ${clientId}\n    client_secret: ${clientSecret}\n`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A broker whose people sign in at its own upstream IdP, with a policy, one public client and an MCP resource client. */
export interface SignInBroker {
  readonly idp: UpstreamIdp;
  readonly broker: TestBroker;
  readonly resource: Credentials;
  /** What registering the public client answered (it has no secret). */
  readonly registered: HttpResult;
  close(): Promise<void>;
}

/**
 * Starts the IdP first (it must know the broker's callback), then the broker on the port it
 * was told, with `login.oidc` pointing at the IdP; puts `policy`, registers `client` as a
 * public agent and a resource client serving `resource`.
 */
export async function startSignInBroker(opts: {
  name: string;
  policy: string;
  client: { client_id: string; name: string; redirect_uris: string[] };
  resource: string;
  /** More YAML for the config file (after `login:`). */
  extraConfig?: string;
}): Promise<SignInBroker> {
  const port = await freePort();
  const idp = await startUpstreamIdp(`http://127.0.0.1:${port}/oauth/callback`);
  const broker = await startTestBroker({
    name: opts.name,
    config: `${idp.loginConfig}${opts.extraConfig ?? ''}`,
    env: { MANDATE_PORT: String(port) },
  });
  const policy = await admin(broker.url, 'PUT', '/admin/policies', { policies: opts.policy });
  if (policy.status !== 200) throw new Error(`policy refused: ${policy.text}`);
  const registered = await admin(broker.url, 'POST', '/admin/clients', {
    ...opts.client,
    kind: 'agent',
    token_endpoint_auth_method: 'none',
  });
  const resource = await broker.client({
    name: 'mcp server',
    kind: 'resource',
    resources: [opts.resource],
  });
  return {
    idp,
    broker,
    resource,
    registered,
    close: async () => {
      await broker.close();
      await idp.close();
    },
  };
}
