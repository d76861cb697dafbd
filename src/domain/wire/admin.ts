// The JSON the admin API answers with where a service builds it: clients, approvals, revocation counts.
import { z } from 'zod';
import { AuthorizationDetailsSchema } from './oauth.ts';

export const RevokedCountSchema = z
  .object({ grants: z.number().int(), tokens: z.number().int() })
  .meta({ id: 'RevokedCount' });
export type RevokedCount = z.infer<typeof RevokedCountSchema>;

/** What an admin revocation revoked. */
export const RevocationResultSchema = z
  .object({ revoked: RevokedCountSchema })
  .meta({ id: 'RevocationResult' });
export type RevocationResult = z.infer<typeof RevocationResultSchema>;

/** A client as the admin API shows it: never its secret hash. */
export const PublicClientSchema = z
  .object({
    client_id: z.string(),
    name: z.string(),
    kind: z.enum(['agent', 'resource']),
    groups: z.array(z.string()),
    attributes: z.record(
      z.string(),
      z.union([z.string(), z.number(), z.boolean(), z.array(z.string())]),
    ),
    resources: z.array(z.string()),
    actions: z
      .array(z.string())
      .optional()
      .describe('resource clients: the actions they serve (tool names), Cedar actions too'),
    token_endpoint_auth_method: z.string(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    jwks_uri: z.string().optional(),
    max_token_ttl: z.number().int().optional(),
    max_grant_ttl: z.number().int().optional(),
    dpop_bound_access_tokens: z
      .boolean()
      .optional()
      .describe('every token request must carry a DPoP proof (RFC 9449)'),
    redirect_uris: z
      .array(z.string())
      .optional()
      .describe('authorization code grant: where /oauth/authorize may send the person back'),
    disabled: z.boolean(),
    created_at: z.number().int().describe('epoch seconds'),
    updated_at: z.number().int().describe('epoch seconds'),
  })
  .meta({ id: 'Client', description: 'a client as the admin API shows it: never its secret hash' });
export type PublicClient = z.infer<typeof PublicClientSchema>;

export const ClientCreatedSchema = z
  .object({
    client: PublicClientSchema,
    client_secret: z
      .string()
      .optional()
      .describe(
        'shown once; only its hash is kept; absent for private_key_jwt and public (none) clients',
      ),
  })
  .meta({ id: 'ClientCreated' });
export type ClientCreated = z.infer<typeof ClientCreatedSchema>;

export const ClientUpdatedSchema = z
  .object({ client: PublicClientSchema, revoked: RevokedCountSchema })
  .meta({ id: 'ClientUpdated' });
export type ClientUpdated = z.infer<typeof ClientUpdatedSchema>;

export const ClientDeletedSchema = z
  .object({ revoked: RevokedCountSchema })
  .meta({ id: 'ClientDeleted' });
export type ClientDeleted = z.infer<typeof ClientDeletedSchema>;

/** An approval request as the admin API shows it (without its intent key). */
export const ApprovalViewSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    client_id: z.string(),
    task_id: z.string(),
    grant_id: z.string().optional(),
    intent: AuthorizationDetailsSchema,
    pairs: z.array(
      z.object({ action: z.string(), location: z.string(), reasons: z.array(z.string()) }),
    ),
    status: z.enum(['pending', 'approved', 'denied', 'consumed']),
    created_at: z.number().int(),
    expires_at: z.number().int(),
    interval: z.number().int(),
    decided_by: z.string().optional(),
    decided_at: z.number().int().optional(),
    note: z.string().optional(),
    requested: AuthorizationDetailsSchema.describe(
      'the intent as the agent asked for it (the same as `intent`)',
    ),
    reasons: z.array(z.string()).describe('the distinct policy ids that asked for a human'),
    link: z.string().describe('its page in the console'),
  })
  .loose()
  .meta({ id: 'Approval' });
export type ApprovalView = z.infer<typeof ApprovalViewSchema>;

export const ApprovalListSchema = z
  .object({ approvals: z.array(ApprovalViewSchema) })
  .meta({ id: 'ApprovalList' });
export type ApprovalList = z.infer<typeof ApprovalListSchema>;
