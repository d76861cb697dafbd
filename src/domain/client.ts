// Clients: agents that ask for tokens and resource servers that check them.
import { z } from 'zod';
import { MAX_GRANT_TTL_SEC } from './intent.ts';
import { JwksUriSchema, type PublicJwks, PublicJwksSchema } from './key-source.ts';
import { MAX_ACCESS_TTL_SEC } from './ttl.ts';
import type { PublicClient } from './wire/admin.ts';
import type { ClientRegistration } from './wire/oauth.ts';

export const ClientKindSchema = z.enum(['agent', 'resource']);
export type ClientKind = z.infer<typeof ClientKindSchema>;

export const AuthMethodSchema = z.enum([
  'client_secret_basic',
  'client_secret_post',
  'private_key_jwt',
  /** A public client (RFC 6749 2.1): no secret; only the authorization code grant and its refresh tokens. */
  'none',
]);
export type AuthMethod = z.infer<typeof AuthMethodSchema>;

const AttributeValue = z.union([
  z.string().max(1000),
  z.number().int().safe(),
  z.boolean(),
  z.array(z.string().max(1000)).max(100),
]);

/** Client ids travel in Basic auth, Cedar entity ids and key names: keep them plain. */
export const ClientIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/, 'must be letters, digits and _ . @ -');

/** A client known by its Client ID Metadata Document: its client_id is the document's https URL. */
export const MetadataClientIdSchema = z
  .string()
  .max(2048)
  .refine((v) => v.startsWith('https://') && URL.canParse(v), 'must be an https URL');

/** Any id a client record may have (what the admin API's paths accept). */
export const AnyClientIdSchema = z.union([ClientIdSchema, MetadataClientIdSchema]);

const Uri = z
  .string()
  .max(512)
  .refine((v) => URL.canParse(v), 'must be an absolute URI');

/**
 * A registered redirect URI (authorization code grant): absolute, no fragment (RFC 6749 3.1.2),
 * https or plain http only on a loopback host (RFC 8252 7.3), or a private-use scheme (RFC 8252 7.1).
 */
const RedirectUri = z
  .string()
  .max(512)
  .refine((v) => redirectUriProblem(v) === undefined, {
    message: 'must be an absolute https (or loopback http) URI without a fragment',
  });

const Groups = z.array(z.string().min(1).max(128)).max(64);
const Attributes = z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), AttributeValue);
const Resources = z.array(Uri).max(64);

/**
 * An action a resource client registers (for an MCP server, a tool name): a name an intent can
 * ask for (no `:`, so the `tools:` scope prefix stays unambiguous) and a Cedar action id.
 */
export const RegisteredActionSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
    'must be 1-64 letters, digits and _ . - (a letter or digit first)',
  );

const Actions = z
  .array(RegisteredActionSchema)
  .max(256)
  .refine((a) => new Set(a).size === a.length, 'must not repeat a name');

/** The client fields, without defaults (a PATCH must not reset what it does not name). */
const ClientFields = z
  .object({
    client_id: ClientIdSchema.optional(),
    name: z.string().min(1).max(200),
    kind: ClientKindSchema,
    groups: Groups,
    attributes: Attributes,
    resources: Resources,
    /** Resource clients: the actions they serve (an MCP server's tool names), added to the Cedar schema. */
    actions: Actions.optional(),
    token_endpoint_auth_method: AuthMethodSchema,
    /** private_key_jwt: the client's public keys, inline (or give jwks_uri). */
    jwks: PublicJwksSchema.optional(),
    /** private_key_jwt: where the client publishes its public keys (https). */
    jwks_uri: JwksUriSchema.optional(),
    max_token_ttl: z.number().int().positive().max(MAX_ACCESS_TTL_SEC).optional(),
    max_grant_ttl: z.number().int().positive().max(MAX_GRANT_TTL_SEC).optional(),
    /** RFC 9449 5.2: every token request of this client must carry a DPoP proof. */
    dpop_bound_access_tokens: z.boolean().optional(),
    /** Authorization code grant: where `/oauth/authorize` may send the person back (exact match; loopback any port). */
    redirect_uris: z.array(RedirectUri).max(20).optional(),
  })
  .strict();

/** `POST /admin/clients` and the `clients:` list of mandate.yaml. */
export const ClientInputSchema = ClientFields.extend({
  groups: Groups.default([]),
  attributes: Attributes.default({}),
  resources: Resources.default([]),
  token_endpoint_auth_method: AuthMethodSchema.default('client_secret_basic'),
}).strict();
export type ClientInput = z.infer<typeof ClientInputSchema>;

/** `PATCH /admin/clients/{id}`: any field but the id and kind. */
export const ClientPatchSchema = ClientFields.omit({ client_id: true, kind: true })
  .partial()
  .extend({ disabled: z.boolean().optional() })
  .strict();
export type ClientPatch = z.infer<typeof ClientPatchSchema>;

/** A stored client. The secret is held only as a hash. */
export interface Client {
  readonly client_id: string;
  readonly name: string;
  readonly kind: ClientKind;
  readonly groups: string[];
  readonly attributes: Record<string, string | number | boolean | string[]>;
  readonly resources: string[];
  /** Resource clients only: actions they register (tool names), each an action of the Cedar schema. */
  readonly actions?: string[] | undefined;
  readonly token_endpoint_auth_method: AuthMethod;
  readonly jwks?: PublicJwks | undefined;
  readonly jwks_uri?: string | undefined;
  readonly max_token_ttl?: number | undefined;
  readonly max_grant_ttl?: number | undefined;
  /** Every token request must carry a DPoP proof (RFC 9449 5.2). */
  readonly dpop_bound_access_tokens?: boolean | undefined;
  /** Authorization code grant: the registered redirect URIs. */
  readonly redirect_uris?: string[] | undefined;
  readonly disabled: boolean;
  readonly created_at: number;
  readonly updated_at: number;
  /** `sha256:<base64url>` of the secret; absent for private_key_jwt clients (they have none). */
  readonly secret_hash?: string | undefined;
}

/**
 * Why a client's authentication settings do not fit together, or undefined: a private_key_jwt
 * client has at most one of jwks and jwks_uri (none: an agent that authenticates only with a
 * trusted issuer's workload token), and a secret client has no keys.
 */
export function authSettingsProblem(
  c: Pick<Client, 'token_endpoint_auth_method' | 'jwks' | 'jwks_uri' | 'secret_hash'> & {
    readonly kind?: ClientKind;
    readonly redirect_uris?: readonly string[] | undefined;
  },
): { path: string; message: string } | undefined {
  if (c.token_endpoint_auth_method === 'none') {
    if (c.kind === 'resource')
      return { path: 'token_endpoint_auth_method', message: 'a resource client cannot be public' };
    if (!c.redirect_uris?.length)
      return { path: 'redirect_uris', message: 'a public client needs at least one redirect URI' };
  }
  if (c.redirect_uris?.length && c.kind === 'resource')
    return { path: 'redirect_uris', message: 'redirect URIs are for agent clients only' };
  if (c.token_endpoint_auth_method === 'private_key_jwt') {
    if (c.jwks !== undefined && c.jwks_uri !== undefined)
      return { path: 'jwks', message: 'give jwks or jwks_uri, not both' };
    return undefined;
  }
  if (c.jwks !== undefined || c.jwks_uri !== undefined)
    return { path: 'jwks', message: 'keys are for private_key_jwt clients only' };
  return undefined;
}

/**
 * Why a redirect URI cannot be registered, or undefined: it is absolute and has no fragment; it is
 * https, or http on a loopback host, or a private-use scheme (`com.example.app:/cb`, RFC 8252 7.1).
 */
export function redirectUriProblem(uri: string): string | undefined {
  if (!URL.canParse(uri)) return 'must be an absolute URI';
  const url = new URL(uri);
  if (url.hash || uri.includes('#')) return 'must not have a fragment';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:')
    return isLoopbackHost(url.hostname) ? undefined : 'http only on a loopback host';
  if (url.protocol === 'javascript:' || url.protocol === 'data:' || url.protocol === 'file:')
    return 'unsupported scheme';
  // A private-use scheme names the app in reverse domain order (RFC 8252 7.1).
  return url.protocol.slice(0, -1).includes('.') ? undefined : 'unsupported scheme';
}

/** A loopback host as RFC 8252 7.3 means it (`localhost` too, which MCP clients use). */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
}

/** The client as the admin API shows it: never its secret hash. */
export function publicClient(client: Client): PublicClient {
  const { secret_hash: _hidden, ...rest } = client;
  return rest;
}

/** A client's own registration as it may read it (RFC 7592 names where they exist): no secret, no hash. */
export function clientRegistration(client: Client): ClientRegistration {
  return {
    client_id: client.client_id,
    client_name: client.name,
    client_id_issued_at: client.created_at,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    ...(client.jwks_uri ? { jwks_uri: client.jwks_uri } : {}),
    ...(client.redirect_uris?.length ? { redirect_uris: client.redirect_uris } : {}),
    kind: client.kind,
    resources: client.resources,
    ...(client.actions ? { actions: client.actions } : {}),
  };
}

/** True when a resource client serves one of the audiences. */
export function servesAudience(client: Client, aud: readonly string[]): boolean {
  return (
    client.kind === 'resource' && !client.disabled && aud.some((a) => client.resources.includes(a))
  );
}
