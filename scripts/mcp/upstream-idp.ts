// An upstream OpenID Provider for person sign-in (tests and the MCP demo): oidc-provider in this process, its dev login and consent forms, on a free port.
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair } from 'jose';
import { Provider } from 'oidc-provider';
import { freePort } from '../bench/free-port.ts';

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
  // Console operators (config operators.role_groups in the console sign-in tests).
  carol: ['mandate-approvers', 'staff'],
  dave: ['mandate-viewers'],
};

/**
 * Starts oidc-provider with one confidential client (Mandate, redirect `callbackUris`), ES256 ID
 * tokens carrying `name`, `email` and `groups`, and its development interactions: any login name
 * signs in.
 */
export async function startUpstreamIdp(
  callbackUris: string | readonly string[],
): Promise<UpstreamIdp> {
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
        redirect_uris: typeof callbackUris === 'string' ? [callbackUris] : [...callbackUris],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: 'ES256',
      },
    ],
    claims: { openid: ['sub'], profile: ['name', 'groups'], email: ['email'] },
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    // Fixed lifetimes (the defaults print a notice each).
    ttl: { AccessToken: 600, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    pkce: { required: () => true },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({
        sub: id,
        name: `${id[0]?.toUpperCase()}${id.slice(1)} Example`,
        email: `${id}@example.com`,
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
