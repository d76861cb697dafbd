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

const Uri = z
  .string()
  .max(512)
  .refine((v) => URL.canParse(v), 'must be an absolute URI');

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
  c: Pick<Client, 'token_endpoint_auth_method' | 'jwks' | 'jwks_uri' | 'secret_hash'>,
): { path: string; message: string } | undefined {
  if (c.token_endpoint_auth_method === 'private_key_jwt') {
    if (c.jwks !== undefined && c.jwks_uri !== undefined)
      return { path: 'jwks', message: 'give jwks or jwks_uri, not both' };
    return undefined;
  }
  if (c.jwks !== undefined || c.jwks_uri !== undefined)
    return { path: 'jwks', message: 'keys are for private_key_jwt clients only' };
  return undefined;
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
