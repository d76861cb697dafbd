// An in-memory stand-in for Mandate's HTTP surface, reached through an injected fetch (no sockets).
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export const ISSUER = 'http://mandate.test';
export const CRM = 'https://crm.example.com';

export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Headers;
  /** Form fields or parsed JSON of the body. */
  readonly form: URLSearchParams;
  readonly json: unknown;
}

type Handler = (req: SeenRequest) => Response | Promise<Response>;

export interface FakeIssuer {
  readonly fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  readonly seen: SeenRequest[];
  /** Replaces the answer of `METHOD /path`. */
  on(route: string, handler: Handler): void;
  /** Signs an access token with the issuer's key; `over` replaces or adds claims. */
  sign(over?: JWTPayload, header?: { typ?: string }): Promise<string>;
  count(route: string): number;
}

/** JSON answer with the status the broker would send. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}

/** Creates the fake with discovery and JWKS answered; other routes answer 404 until set. */
export async function createFakeIssuer(): Promise<FakeIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const seen: SeenRequest[] = [];
  const routes = new Map<string, Handler>();
  routes.set('GET /.well-known/oauth-authorization-server', () =>
    json({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth/token`,
      introspection_endpoint: `${ISSUER}/oauth/introspect`,
      revocation_endpoint: `${ISSUER}/oauth/revoke`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ['client_credentials', 'refresh_token'],
    }),
  );
  routes.set('GET /.well-known/jwks.json', () => json({ keys: [jwk] }));

  const fetchImpl = async (
    input: string | URL | Request,
    init: RequestInit = {},
  ): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init.method ?? 'GET').toUpperCase();
    const raw =
      init.body instanceof URLSearchParams
        ? init.body.toString()
        : typeof init.body === 'string'
          ? init.body
          : '';
    const headers = new Headers(init.headers as ConstructorParameters<typeof Headers>[0]);
    let parsed: unknown;
    try {
      parsed = raw ? JSON.parse(raw) : undefined;
    } catch {
      parsed = undefined;
    }
    const req: SeenRequest = {
      method,
      path: url.pathname,
      headers,
      form: new URLSearchParams(raw),
      json: parsed,
    };
    seen.push(req);
    const handler = routes.get(`${method} ${url.pathname}`);
    return handler ? handler(req) : json({ error: 'not_found' }, 404);
  };

  return {
    fetch: fetchImpl,
    seen,
    on: (route, handler) => routes.set(route, handler),
    count: (route) => seen.filter((r) => `${r.method} ${r.path}` === route).length,
    async sign(over = {}, header = {}) {
      const nowSec = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: ISSUER,
        sub: 'agent-1',
        aud: [CRM],
        iat: nowSec,
        exp: nowSec + 300,
        jti: `jti-${Math.random().toString(36).slice(2)}`,
        client_id: 'agent-1',
        grant_id: 'g-1',
        authorization_details: [
          { type: 'agent_task', task_id: 'T-1', actions: ['read'], locations: [CRM] },
        ],
        ...over,
      })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: header.typ ?? 'at+jwt' })
        .sign(privateKey);
    },
  };
}
