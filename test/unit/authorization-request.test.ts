// The authorization code grant's pure rules: redirect matching (exact; loopback any port), the /oauth/authorize parameters, public client settings.
import { describe, expect, it } from 'vitest';
import {
  defaultIntent,
  readAuthorizationParams,
  readClientTarget,
  redirectUriMatches,
  toolScopes,
} from '../../src/domain/authorization-request.ts';
import { authSettingsProblem, redirectUriProblem } from '../../src/domain/client.ts';
import { OAuthError } from '../../src/domain/errors.ts';
import { type AgentTask, AuthorizationDetailsSchema } from '../../src/domain/intent.ts';

const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

function query(params: Record<string, string | string[] | undefined>) {
  return (name: string): readonly string[] => {
    const v = params[name];
    return v === undefined ? [] : Array.isArray(v) ? v : [v];
  };
}

const VALID = {
  response_type: 'code',
  code_challenge: CHALLENGE,
  code_challenge_method: 'S256',
  state: 's1',
  resource: 'https://mcp.example.com/mcp',
  scope: 'tools:search read',
};

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (err) {
    return err instanceof OAuthError ? err.code : 'not an OAuthError';
  }
}

describe('redirectUriMatches', () => {
  const registered = [
    'https://app.example.com/cb',
    'http://127.0.0.1/callback',
    'http://[::1]:8000/cb',
  ];

  it('accepts exactly a registered URI', () => {
    expect(redirectUriMatches(registered, 'https://app.example.com/cb')).toBe(true);
  });

  it.each([
    'https://app.example.com/cc',
    'https://app.example.com/cb/',
    'https://app.example.com/cb?x=1',
    'https://APP.example.com/cb',
    'https://app.example.com:443/cb',
    'https://app.example.com/cb#f',
    'http://app.example.com/cb',
  ])('refuses %s (one character or part off)', (uri) => {
    expect(redirectUriMatches(registered, uri)).toBe(false);
  });

  it('accepts a registered loopback URI on any port (RFC 8252 7.3), nothing else about it changed', () => {
    expect(redirectUriMatches(registered, 'http://127.0.0.1:51234/callback')).toBe(true);
    expect(redirectUriMatches(registered, 'http://[::1]:9/cb')).toBe(true);
    expect(redirectUriMatches(registered, 'http://127.0.0.1:51234/callbacks')).toBe(false);
    expect(redirectUriMatches(registered, 'http://127.0.0.1:51234/callback?x=1')).toBe(false);
    expect(redirectUriMatches(registered, 'http://localhost:51234/callback')).toBe(false);
    expect(redirectUriMatches(registered, 'https://127.0.0.1:51234/callback')).toBe(false);
    expect(redirectUriMatches(registered, 'http://127.0.0.1:51234/Callback')).toBe(false);
    expect(redirectUriMatches(registered, 'http://127.0.0.1:51234@evil.example/callback')).toBe(
      false,
    );
  });
});

describe('readClientTarget and readAuthorizationParams', () => {
  it('reads a valid request; tool scopes name their actions', () => {
    expect(readClientTarget(query({ client_id: 'a', redirect_uri: 'https://x/cb' }))).toEqual({
      clientId: 'a',
      redirectUri: 'https://x/cb',
    });
    const p = readAuthorizationParams(query(VALID));
    expect(p.scope).toBe('search read');
    expect(p.resources).toEqual(['https://mcp.example.com/mcp']);
    expect(toolScopes('tools:a  b tools:c')).toBe('a b c');
    // With PKCE, state is optional (OAuth 2.1): absent, nothing is echoed.
    expect(readAuthorizationParams(query({ ...VALID, state: undefined })).state).toBeUndefined();
  });

  it.each([
    [
      'no client_id',
      () => readClientTarget(query({ redirect_uri: 'https://x/cb' })),
      'invalid_request',
    ],
    [
      'a repeated redirect_uri',
      () =>
        readClientTarget(query({ client_id: 'a', redirect_uri: ['https://x/cb', 'https://y/cb'] })),
      'invalid_request',
    ],
    [
      'response_type token',
      () => readAuthorizationParams(query({ ...VALID, response_type: 'token' })),
      'unsupported_response_type',
    ],
    [
      'no PKCE',
      () =>
        readAuthorizationParams(
          query({ ...VALID, code_challenge: undefined, code_challenge_method: undefined }),
        ),
      'invalid_request',
    ],
    [
      'plain PKCE',
      () => readAuthorizationParams(query({ ...VALID, code_challenge_method: 'plain' })),
      'invalid_request',
    ],
    [
      'S256 not named',
      () => readAuthorizationParams(query({ ...VALID, code_challenge_method: undefined })),
      'invalid_request',
    ],
    [
      'a short challenge',
      () => readAuthorizationParams(query({ ...VALID, code_challenge: 'abc' })),
      'invalid_request',
    ],
    [
      'a state over 512 characters',
      () => readAuthorizationParams(query({ ...VALID, state: 's'.repeat(513) })),
      'invalid_request',
    ],
    [
      'no resource',
      () => readAuthorizationParams(query({ ...VALID, resource: undefined })),
      'invalid_target',
    ],
    [
      'a relative resource',
      () => readAuthorizationParams(query({ ...VALID, resource: '/mcp' })),
      'invalid_target',
    ],
    [
      'a resource with a fragment',
      () => readAuthorizationParams(query({ ...VALID, resource: 'https://m/x#y' })),
      'invalid_target',
    ],
    [
      'neither scope nor authorization_details, and no tool registered for the resource',
      () => defaultIntent(['https://mcp.example.com/mcp'], new Map(), 'adhoc-t', 64),
      'invalid_scope',
    ],
  ] as const)('%s: %s', (_name, f, code) => {
    expect(codeOf(f)).toBe(code);
  });
});

describe('defaultIntent (no scope, no authorization_details)', () => {
  const A = 'https://a.example.com/mcp';
  const B = 'https://b.example.com/mcp';

  it('is left to the registered tools: readAuthorizationParams passes both through as absent', () => {
    const p = readAuthorizationParams(query({ ...VALID, scope: undefined }));
    expect(p.scope).toBeUndefined();
    expect(p.authorizationDetails).toBeUndefined();
  });

  it('asks for each resource its own tools only, one task', () => {
    const served = new Map([
      [A, ['read_ticket', 'search_tickets']],
      [B, ['send_mail']],
    ]);
    const entries = JSON.parse(defaultIntent([A, B], served, 'adhoc-t', 64)) as AgentTask[];
    expect(entries).toEqual([
      {
        type: 'agent_task',
        task_id: 'adhoc-t',
        actions: ['read_ticket', 'search_tickets'],
        locations: [A],
      },
      { type: 'agent_task', task_id: 'adhoc-t', actions: ['send_mail'], locations: [B] },
    ]);
    expect(AuthorizationDetailsSchema.safeParse(entries).success).toBe(true);
  });

  it('a long tool list takes entries of at most 32', () => {
    const many = Array.from({ length: 40 }, (_, i) => `tool_${i}`);
    const entries = JSON.parse(
      defaultIntent([B], new Map([[B, many]]), 'adhoc-t', 64),
    ) as AgentTask[];
    expect(entries.map((e) => [e.locations, e.actions.length])).toEqual([
      [[B], 32],
      [[B], 8],
    ]);
    expect(entries.flatMap((e) => e.actions)).toEqual(many);
    expect(AuthorizationDetailsSchema.safeParse(entries).success).toBe(true);
  });

  it('a resource without tools, or more tools than one request may ask for, is invalid_scope', () => {
    const many = Array.from({ length: 40 }, (_, i) => `tool_${i}`);
    expect(codeOf(() => defaultIntent([A, B], new Map([[B, many]]), 'adhoc-t', 64))).toBe(
      'invalid_scope',
    );
    expect(codeOf(() => defaultIntent([B], new Map([[B, many]]), 'adhoc-t', 39))).toBe(
      'invalid_scope',
    );
  });
});

describe('public clients and redirect URIs', () => {
  it('a public client is an agent with a redirect URI and no keys', () => {
    const base = {
      token_endpoint_auth_method: 'none' as const,
      jwks: undefined,
      jwks_uri: undefined,
      secret_hash: undefined,
    };
    expect(
      authSettingsProblem({ ...base, kind: 'agent', redirect_uris: ['https://a/cb'] }),
    ).toBeUndefined();
    expect(authSettingsProblem({ ...base, kind: 'agent', redirect_uris: [] })?.path).toBe(
      'redirect_uris',
    );
    expect(
      authSettingsProblem({ ...base, kind: 'resource', redirect_uris: ['https://a/cb'] })?.path,
    ).toBe('token_endpoint_auth_method');
  });

  it.each([
    ['https://app.example.com/cb', true],
    ['http://127.0.0.1/cb', true],
    ['http://localhost:8080/cb', true],
    ['com.example.app:/oauth', true],
    ['http://app.example.com/cb', false],
    ['https://app.example.com/cb#x', false],
    ['javascript:alert(1)', false],
    ['myapp:/cb', false],
    ['/relative', false],
  ] as const)('%s may be registered: %s', (uri, ok) => {
    expect(redirectUriProblem(uri) === undefined).toBe(ok);
  });
});
