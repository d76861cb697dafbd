// The OpenAPI 3.1 document of the whole HTTP API, built from the zod schemas the routes validate with.
import { z } from 'zod';
import { ClientInputSchema, ClientPatchSchema } from '../domain/client.ts';
import { AgentTaskSchema } from '../domain/intent.ts';
import { ReceiverInputSchema } from '../domain/receiver.ts';
import { EvaluationSchema } from '../services/evaluate-access.ts';
import { SignalRequestSchema } from '../services/report-signal.ts';
import { ApprovalDecisionSchema, QuerySchema as ApprovalQuerySchema } from './admin/approvals.ts';
import { QuerySchema as DecisionQuerySchema } from './admin/decisions.ts';
import { QuerySchema as GrantQuerySchema } from './admin/grants.ts';
import { PolicyRequestSchema } from './admin/policies.ts';
import { RevocationRequestSchema } from './admin/revocations.ts';
import { BatchSchema } from './authzen/evaluations.ts';
import { IntrospectionRequestFormSchema } from './oauth/introspect.ts';
import { TokenRevocationFormSchema } from './oauth/revoke.ts';
import { TokenRequestFormSchema } from './oauth/token.ts';

// Response shapes. The routes build these by hand, so they are described here, once.

const OAuthErrorSchema = z
  .object({
    error: z
      .enum([
        'invalid_request',
        'invalid_client',
        'invalid_grant',
        'unauthorized_client',
        'unsupported_grant_type',
        'unsupported_token_type',
        'invalid_scope',
        'invalid_target',
        'invalid_authorization_details',
        'access_denied',
        'approval_required',
        'authorization_pending',
        'slow_down',
        'expired_token',
        'temporarily_unavailable',
        'server_error',
      ])
      .describe('RFC 6749 5.2 / RFC 7009 / RFC 9396 / OpenID CIBA error code'),
    error_description: z
      .string()
      .optional()
      .describe('names the failing field; never echoes a token or secret'),
    auth_req_id: z
      .string()
      .optional()
      .describe('approval_required: the handle to poll with the CIBA grant type'),
    expires_in: z
      .number()
      .int()
      .optional()
      .describe('approval_required: seconds until the approval request lapses'),
    interval: z.number().int().optional().describe('approval_required: seconds between polls'),
  })
  .meta({
    description: 'RFC 6749 section 5.2 error (Cache-Control: no-store; WWW-Authenticate on 401)',
  });

const ProblemSchema = z
  .object({
    type: z.string().describe('always about:blank'),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }).loose())
      .optional()
      .describe('one entry per failing field (or policy line and column)'),
  })
  .meta({ description: 'RFC 9457 problem details (application/problem+json)' });

const ReasonAdminSchema = z.object({
  en: z.string().describe('why, in English'),
  code: z
    .string()
    .describe('stable reason code, e.g. outside_grant, token_revoked, foreign_resource'),
  policies: z.array(z.string()).optional().describe('@id of the Cedar policies that decided'),
});

const AuthZenDecisionSchema = z
  .object({
    decision: z.boolean(),
    context: z.object({
      decision_id: z.string().optional().describe('id of the decision record'),
      reason_admin: ReasonAdminSchema.optional(),
    }),
  })
  .meta({
    description: 'OpenID AuthZEN 1.0 decision; errors keep this shape with decision: false',
  });

const TokenResponseSchema = z.object({
  access_token: z.string().describe('RFC 9068 JWT (typ at+jwt)'),
  token_type: z.enum(['Bearer', 'DPoP']),
  expires_in: z.number().int().describe('seconds; at most 900'),
  scope: z.string().optional().describe('the granted actions, space-separated'),
  authorization_details: z
    .array(AgentTaskSchema)
    .describe('exactly what was granted (may be narrower than asked)'),
  refresh_token: z
    .string()
    .describe("the grant's handle; rotated on every use, a reused one revokes the grant"),
  grant_id: z.string(),
});

const IntrospectionResponseSchema = z.object({
  active: z
    .boolean()
    .describe('false for anything expired, revoked, foreign, unknown or uncheckable'),
  iss: z.string().optional(),
  sub: z.string().optional(),
  client_id: z.string().optional(),
  aud: z.union([z.string(), z.array(z.string())]).optional(),
  exp: z.number().int().optional(),
  iat: z.number().int().optional(),
  jti: z.string().optional(),
  scope: z.string().optional(),
  token_type: z.string().optional(),
  authorization_details: z.array(AgentTaskSchema).optional(),
  grant_id: z.string().optional(),
  cnf: z.object({ jkt: z.string() }).loose().optional(),
});

const ServerMetadataSchema = z
  .object({
    issuer: z.string(),
    token_endpoint: z.string(),
    introspection_endpoint: z.string(),
    revocation_endpoint: z.string(),
    jwks_uri: z.string(),
    grant_types_supported: z.array(z.string()),
    token_endpoint_auth_methods_supported: z.array(z.string()),
    authorization_details_types_supported: z.array(z.string()),
    service_documentation: z.string().optional(),
  })
  .loose();

const JwksSchema = z.object({
  keys: z
    .array(z.record(z.string(), z.unknown()))
    .describe('public JWKs only (kid, kty, alg, use)'),
});

const PublicClientSchema = z
  .object({
    client_id: z.string(),
    name: z.string(),
    kind: z.enum(['agent', 'resource']),
    groups: z.array(z.string()),
    attributes: z.record(z.string(), z.unknown()),
    resources: z.array(z.string()),
    token_endpoint_auth_method: z.string(),
    max_token_ttl: z.number().int().optional(),
    max_grant_ttl: z.number().int().optional(),
    disabled: z.boolean(),
    created_at: z.number().int().describe('epoch seconds'),
    updated_at: z.number().int().describe('epoch seconds'),
  })
  .loose();

const RevokedCountSchema = z.object({ grants: z.number().int(), tokens: z.number().int() });

const DecisionRecordSchema = z
  .object({
    id: z.string(),
    at_ms: z.number().int(),
    kind: z
      .string()
      .describe(
        'mint, refresh, evaluation, reevaluation, revocation, approval, client, policy, ...',
      ),
    outcome: z.string(),
    reasons: z.array(z.string()).describe('why: policy ids and drift reasons'),
    client_id: z.string().optional(),
    grant_id: z.string().optional(),
    policy_version: z.number().int().optional(),
    inputs: z
      .record(z.string(), z.unknown())
      .describe(
        'the request, context and entities as they were (never a token or secret); a batch evaluation names its shared context as `shared_context` {record, sid, hash} instead of a copy (see `shared_inputs`), and inputs larger than audit.max_record_bytes are kept as `omitted` {bytes, sha256}',
      ),
    chain: z.string(),
    seq: z.number().int(),
    prev: z.string().describe('hash of the previous record of the chain'),
    hash: z.string(),
  })
  .loose();

const SharedInputsSchema = z
  .record(z.string(), z.record(z.string(), z.unknown()).nullable())
  .describe(
    'the inputs of the shared records the decisions name (`inputs.shared_context.record`), by record id; null when retention trimmed one',
  );

const GrantSchema = z
  .object({
    id: z.string(),
    client_id: z.string(),
    task_id: z.string(),
    status: z.enum(['active', 'suspended', 'revoked']),
    requested: z.array(AgentTaskSchema),
    granted: z.array(AgentTaskSchema),
    context: z.record(z.string(), z.unknown()),
    policy_version: z.number().int(),
    created_at: z.number().int(),
    expires_at: z.number().int(),
    reason: z.string().optional().describe('why it was suspended or revoked'),
  })
  .loose();

const ApprovalSchema = z
  .object({
    id: z.string(),
    kind: z.string(),
    client_id: z.string(),
    task_id: z.string(),
    grant_id: z.string().optional(),
    intent: z.array(AgentTaskSchema),
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
  })
  .loose();

const PublicReceiverSchema = z.object({
  id: z.string(),
  url: z.string(),
  audience: z.string(),
  events: z.array(z.string()),
  has_authorization: z.boolean(),
});

/** Request schemas (validated by the routes) and response shapes, by component name. */
const REQUESTS = {
  TokenRequest: TokenRequestFormSchema,
  IntrospectionRequest: IntrospectionRequestFormSchema,
  TokenRevocationRequest: TokenRevocationFormSchema,
  ClientInput: ClientInputSchema,
  ClientPatch: ClientPatchSchema,
  RevocationRequest: RevocationRequestSchema,
  PolicyRequest: PolicyRequestSchema,
  ApprovalDecision: ApprovalDecisionSchema,
  EvaluationRequest: EvaluationSchema,
  EvaluationsRequest: BatchSchema,
  SignalRequest: SignalRequestSchema,
  ReceiverInput: ReceiverInputSchema,
} as const satisfies Record<string, z.ZodType>;

const RESPONSES = {
  OAuthError: OAuthErrorSchema,
  Problem: ProblemSchema,
  AuthZenDecision: AuthZenDecisionSchema,
  AuthZenDecisions: z.object({ evaluations: z.array(AuthZenDecisionSchema) }),
  AuthZenConfiguration: z.object({
    policy_decision_point: z.string(),
    access_evaluation_endpoint: z.string(),
    access_evaluations_endpoint: z.string(),
  }),
  TokenResponse: TokenResponseSchema,
  IntrospectionResponse: IntrospectionResponseSchema,
  ServerMetadata: ServerMetadataSchema,
  Jwks: JwksSchema,
  Health: z.object({ status: z.string() }),
  Readiness: z.object({
    status: z.enum(['ready', 'not ready']),
    checks: z.record(z.string(), z.boolean()),
  }),
  Client: PublicClientSchema,
  ClientCreated: z.object({
    client: PublicClientSchema,
    client_secret: z.string().optional().describe('shown once; only its hash is kept'),
  }),
  ClientList: z.object({ clients: z.array(PublicClientSchema) }),
  ClientUpdated: z.object({ client: PublicClientSchema, revoked: RevokedCountSchema }),
  ClientDeleted: z.object({ revoked: RevokedCountSchema }),
  RevocationResult: z.object({ revoked: RevokedCountSchema }),
  Grant: GrantSchema,
  GrantList: z.object({ grants: z.array(GrantSchema) }),
  GrantWithHistory: GrantSchema.extend({
    history: z.array(DecisionRecordSchema),
    shared_inputs: SharedInputsSchema,
  }),
  DecisionList: z.object({
    decisions: z.array(DecisionRecordSchema),
    shared_inputs: SharedInputsSchema,
  }),
  AuditVerification: z
    .object({ ok: z.boolean(), records: z.number().int().optional() })
    .loose()
    .describe('ok, or the first broken link'),
  PolicySet: z.object({
    version: z.number().int(),
    sha256: z.string(),
    updated_at: z.number().int(),
    policies: z.string(),
  }),
  PolicyVersion: z.object({ version: z.number().int() }),
  PolicySimulation: z
    .object({ policy_version_in_force: z.number().int() })
    .loose()
    .describe('what the new set would narrow or revoke among live grants'),
  Approval: ApprovalSchema,
  ApprovalList: z.object({ approvals: z.array(ApprovalSchema) }),
  KeyRotated: z.object({ kid: z.string() }),
  SignalAccepted: z.object({
    accepted: z.number().int(),
    reevaluated: z.unknown(),
    refused_too_many_types: z
      .array(z.string())
      .optional()
      .describe('grants that refused the signal: a new type beyond signals.max_types_per_grant'),
  }),
  Receiver: PublicReceiverSchema,
  ReceiverList: z.object({ receivers: z.array(PublicReceiverSchema) }),
  ReceiverDeleted: z.object({ deleted: z.string() }),
} as const satisfies Record<string, z.ZodType>;

type RequestName = keyof typeof REQUESTS;
type ResponseName = keyof typeof RESPONSES;
type Auth = 'none' | 'client' | 'resource' | 'admin' | 'resource_or_admin';
type Wire = 'oauth' | 'problem' | 'authzen' | 'plain';

interface Reply {
  readonly description: string;
  /** JSON body component; none for an empty body. */
  readonly schema?: ResponseName;
  readonly contentType?: string;
}

interface Endpoint {
  readonly method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path template (`{id}`). */
  readonly path: string;
  readonly tag: string;
  readonly summary: string;
  readonly description: string;
  readonly auth: Auth;
  readonly wire: Wire;
  readonly query?: z.ZodObject;
  readonly pathParams?: Readonly<Record<string, string>>;
  readonly body?: {
    readonly type: 'application/json' | 'application/x-www-form-urlencoded';
    readonly schema: RequestName;
  };
  readonly responses: Readonly<Record<string, Reply>>;
}

const ok = (schema: ResponseName, description = 'OK'): Reply => ({ description, schema });
const problemReply = (description: string): Reply => ({
  description,
  schema: 'Problem',
  contentType: 'application/problem+json',
});
const oauthError = (description: string): Reply => ({ description, schema: 'OAuthError' });
const authzenError = (description: string): Reply => ({ description, schema: 'AuthZenDecision' });

const ADMIN_ERRORS: Record<string, Reply> = {
  '401': problemReply('missing or invalid admin bearer token'),
  '429': problemReply('too many failed authentications'),
  '503': problemReply('the store cannot be reached; nothing was changed'),
};
const ADMIN_BODY_ERRORS: Record<string, Reply> = {
  ...ADMIN_ERRORS,
  '400': problemReply('invalid body: `errors` names each failing field'),
  '413': problemReply('body too large'),
  '415': problemReply('the body must be application/json'),
};
const OAUTH_ERRORS: Record<string, Reply> = {
  '400': oauthError(
    'invalid_request (missing, malformed or repeated parameter; wrong content type) or another RFC 6749 code',
  ),
  '401': oauthError('invalid_client: unknown client or wrong credentials'),
  '429': oauthError('too many failed authentications'),
  '503': oauthError('temporarily_unavailable: retry shortly'),
};
const AUTHZEN_ERRORS: Record<string, Reply> = {
  '400': authzenError('invalid request (decision false, reason_admin.code invalid_request)'),
  '401': authzenError('resource client authentication is required'),
  '403': authzenError('only resource clients may ask for decisions'),
  '413': authzenError('body too large'),
  '415': authzenError('the body must be application/json'),
  '429': authzenError('too many invalid tokens or failed authentications'),
  '503': authzenError('Mandate cannot check this now (fail closed)'),
};

const CLIENT_ID = { id: 'client_id' };

/** Every operation the app serves. `test/integration/openapi.test.ts` compares it with the app's routes. */
const ENDPOINTS: readonly Endpoint[] = [
  {
    method: 'get',
    path: '/healthz',
    tag: 'Operations',
    summary: 'Liveness',
    description: '200 while the process lives.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': ok('Health') },
  },
  {
    method: 'get',
    path: '/readyz',
    tag: 'Operations',
    summary: 'Readiness',
    description: '200 only when Redis, the signing keys and the policy set are loaded.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': ok('Readiness', 'ready'), '503': ok('Readiness', 'not ready') },
  },
  {
    method: 'get',
    path: '/metrics',
    tag: 'Operations',
    summary: 'Prometheus metrics',
    description: 'Prometheus text exposition format.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': { description: 'metrics', contentType: 'text/plain' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'Operations',
    summary: 'This document',
    description: 'The OpenAPI 3.1 document of the whole HTTP API.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': { description: 'OpenAPI 3.1 document', contentType: 'application/json' } },
  },
  {
    method: 'get',
    path: '/docs',
    tag: 'Operations',
    summary: 'Rendered reference',
    description: 'This document rendered as a self-contained HTML page.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': { description: 'HTML page', contentType: 'text/html' } },
  },
  {
    method: 'get',
    path: '/.well-known/oauth-authorization-server',
    tag: 'Discovery',
    summary: 'Authorization server metadata (RFC 8414)',
    description:
      'Endpoints, grant types, client authentication methods and the `agent_task` authorization_details type.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': ok('ServerMetadata') },
  },
  {
    method: 'get',
    path: '/.well-known/jwks.json',
    tag: 'Discovery',
    summary: 'Signing keys (JWKS)',
    description: 'Public keys only; during a key rotation both the old and the new key.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': ok('Jwks') },
  },
  {
    method: 'get',
    path: '/.well-known/authzen-configuration',
    tag: 'Discovery',
    summary: 'AuthZEN PDP metadata',
    description: 'Where the AuthZEN evaluation endpoints are.',
    auth: 'none',
    wire: 'plain',
    responses: { '200': ok('AuthZenConfiguration') },
  },
  {
    method: 'post',
    path: '/oauth/token',
    tag: 'OAuth',
    summary: 'Get a task-bound token',
    description:
      '`client_credentials` with `agent_task` authorization_details: each (action, location) pair is decided by policy; the grant is created as asked, narrowed, or refused (`access_denied`), or needs a human (`approval_required` with `auth_req_id`). `refresh_token` re-evaluates policy before issuing a new token for the same grant. `urn:openid:params:grant-type:ciba` polls an approval (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`). Parameters may not be repeated (except `resource`).',
    auth: 'client',
    wire: 'oauth',
    body: { type: 'application/x-www-form-urlencoded', schema: 'TokenRequest' },
    responses: { '200': ok('TokenResponse', 'token issued'), ...OAUTH_ERRORS },
  },
  {
    method: 'post',
    path: '/oauth/introspect',
    tag: 'OAuth',
    summary: 'Introspect a token (RFC 7662)',
    description:
      'Resource clients only. `active` is false for an expired, revoked, foreign-audience or unknown token, for a token of a revoked or suspended grant, and whenever Mandate cannot check (fail closed).',
    auth: 'resource',
    wire: 'oauth',
    body: { type: 'application/x-www-form-urlencoded', schema: 'IntrospectionRequest' },
    responses: { '200': ok('IntrospectionResponse', 'the token state'), ...OAUTH_ERRORS },
  },
  {
    method: 'post',
    path: '/oauth/revoke',
    tag: 'OAuth',
    summary: 'Revoke an own token (RFC 7009)',
    description:
      'A client revokes its own access or refresh token; revoking the refresh token ends the grant. 200 even for unknown tokens.',
    auth: 'client',
    wire: 'oauth',
    body: { type: 'application/x-www-form-urlencoded', schema: 'TokenRevocationRequest' },
    responses: { '200': { description: 'revoked (or unknown): empty body' }, ...OAUTH_ERRORS },
  },
  {
    method: 'post',
    path: '/access/v1/evaluation',
    tag: 'AuthZEN',
    summary: 'Decide one action now (AuthZEN 1.0)',
    description:
      'Decides this action on this resource now: token live, the pair within the granted authorization_details, declared step order respected, policy re-evaluated with the live context and usage counters. Every call is a decision record and counts toward the grant usage.',
    auth: 'resource',
    wire: 'authzen',
    body: { type: 'application/json', schema: 'EvaluationRequest' },
    responses: { '200': ok('AuthZenDecision', 'the decision'), ...AUTHZEN_ERRORS },
  },
  {
    method: 'post',
    path: '/access/v1/evaluations',
    tag: 'AuthZEN',
    summary: 'Decide a batch (AuthZEN 1.0)',
    description:
      'Top-level subject, action, resource and context are defaults for each item of `evaluations`; `options.evaluations_semantic` may stop at the first deny or permit.',
    auth: 'resource',
    wire: 'authzen',
    body: { type: 'application/json', schema: 'EvaluationsRequest' },
    responses: {
      '200': ok('AuthZenDecisions', 'one decision per evaluation, in order'),
      ...AUTHZEN_ERRORS,
    },
  },
  {
    method: 'post',
    path: '/v1/signals',
    tag: 'Signals',
    summary: 'Report a context change',
    description:
      'A resource client (its grants only) or an admin reports a context change (`ip_changed`, `prompt_changed` with `context.actions`, `workload_mismatch`, `credential_compromised`, `task_complete`, ...). Affected grants are re-evaluated before the call returns.',
    auth: 'resource_or_admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'SignalRequest' },
    responses: {
      '202': ok('SignalAccepted', 'accepted and re-evaluated'),
      ...ADMIN_BODY_ERRORS,
      '403': problemReply('only resource clients and admins report signals'),
      '409': problemReply(
        'the signal is of a new type and every grant it names holds signals.max_types_per_grant types',
      ),
    },
  },
  {
    method: 'post',
    path: '/admin/clients',
    tag: 'Admin: clients',
    summary: 'Register a client',
    description:
      'An agent or a resource server. The generated `client_secret` is returned once; only its hash is kept.',
    auth: 'admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'ClientInput' },
    responses: {
      '201': ok('ClientCreated', 'created'),
      ...ADMIN_BODY_ERRORS,
      '409': problemReply('the client_id is taken'),
    },
  },
  {
    method: 'get',
    path: '/admin/clients',
    tag: 'Admin: clients',
    summary: 'List clients',
    description: 'Every registered client (never a secret hash).',
    auth: 'admin',
    wire: 'problem',
    responses: { '200': ok('ClientList'), ...ADMIN_ERRORS },
  },
  {
    method: 'get',
    path: '/admin/clients/{id}',
    tag: 'Admin: clients',
    summary: 'Show a client',
    description: 'One client.',
    auth: 'admin',
    wire: 'problem',
    pathParams: CLIENT_ID,
    responses: { '200': ok('Client'), ...ADMIN_ERRORS, '404': problemReply('no such client') },
  },
  {
    method: 'patch',
    path: '/admin/clients/{id}',
    tag: 'Admin: clients',
    summary: 'Change a client',
    description:
      'Any field but the id and kind. `{"disabled": true}` is the kill switch: every live grant of a disabled agent is revoked.',
    auth: 'admin',
    wire: 'problem',
    pathParams: CLIENT_ID,
    body: { type: 'application/json', schema: 'ClientPatch' },
    responses: {
      '200': ok('ClientUpdated'),
      ...ADMIN_BODY_ERRORS,
      '404': problemReply('no such client'),
    },
  },
  {
    method: 'delete',
    path: '/admin/clients/{id}',
    tag: 'Admin: clients',
    summary: 'Delete a client',
    description: 'Revokes every grant of the client, then deletes it.',
    auth: 'admin',
    wire: 'problem',
    pathParams: CLIENT_ID,
    responses: {
      '200': ok('ClientDeleted'),
      ...ADMIN_ERRORS,
      '404': problemReply('no such client'),
    },
  },
  {
    method: 'post',
    path: '/admin/revocations',
    tag: 'Admin: grants',
    summary: 'Revoke by token, grant, task or client',
    description:
      'Exactly one of jti, grant_id, task_id, client_id. When the call returns every broker process already refuses what it revoked.',
    auth: 'admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'RevocationRequest' },
    responses: { '200': ok('RevocationResult'), ...ADMIN_BODY_ERRORS },
  },
  {
    method: 'get',
    path: '/admin/grants',
    tag: 'Admin: grants',
    summary: 'List grants',
    description: 'Grants by client, task or status.',
    auth: 'admin',
    wire: 'problem',
    query: GrantQuerySchema,
    responses: { '200': ok('GrantList'), ...ADMIN_ERRORS, '400': problemReply('invalid query') },
  },
  {
    method: 'get',
    path: '/admin/grants/{id}',
    tag: 'Admin: grants',
    summary: 'Show a grant with its decision history',
    description:
      'The grant (requested and granted intent, context, status and reason) and every decision record about it: the history explains why it was narrowed, suspended or revoked.',
    auth: 'admin',
    wire: 'problem',
    pathParams: { id: 'grant id' },
    responses: {
      '200': ok('GrantWithHistory'),
      ...ADMIN_ERRORS,
      '404': problemReply('no such grant'),
    },
  },
  {
    method: 'get',
    path: '/admin/decisions',
    tag: 'Admin: audit',
    summary: 'Decision records',
    description: 'Decision records with their inputs, newest first.',
    auth: 'admin',
    wire: 'problem',
    query: DecisionQuerySchema,
    responses: { '200': ok('DecisionList'), ...ADMIN_ERRORS, '400': problemReply('invalid query') },
  },
  {
    method: 'get',
    path: '/admin/audit/verify',
    tag: 'Admin: audit',
    summary: 'Verify the audit chain',
    description:
      '`{"ok":true,"records":n}` or the first broken link of the hash chain, read in pages of bounded size. Retention (audit.max_records, audit.max_bytes) trims the oldest records: the first record left of each chain anchors it, a chain head whose last record was trimmed is not compared, and a decision whose shared batch inputs were trimmed is checked without them; a decision naming shared inputs whose hash differs breaks the chain.',
    auth: 'admin',
    wire: 'problem',
    responses: { '200': ok('AuditVerification'), ...ADMIN_ERRORS },
  },
  {
    method: 'get',
    path: '/admin/policies',
    tag: 'Admin: policy',
    summary: 'The policy set in force',
    description: 'Cedar text, version and hash.',
    auth: 'admin',
    wire: 'problem',
    responses: { '200': ok('PolicySet'), ...ADMIN_ERRORS },
  },
  {
    method: 'put',
    path: '/admin/policies',
    tag: 'Admin: policy',
    summary: 'Replace the policy set',
    description:
      'Validated against the Cedar schema; 400 with line and column when it does not parse or validate (the old set stays in force). Every live grant is re-evaluated against the new version.',
    auth: 'admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'PolicyRequest' },
    responses: { '200': ok('PolicyVersion'), ...ADMIN_BODY_ERRORS },
  },
  {
    method: 'post',
    path: '/admin/policies/simulate',
    tag: 'Admin: policy',
    summary: 'Dry-run a policy set',
    description: 'What the new set would narrow or revoke among live grants, changing nothing.',
    auth: 'admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'PolicyRequest' },
    responses: { '200': ok('PolicySimulation'), ...ADMIN_BODY_ERRORS },
  },
  {
    method: 'get',
    path: '/admin/approvals',
    tag: 'Admin: approvals',
    summary: 'Approval requests',
    description: 'Tasks that policy sent to a human (`@remedy("approval")`).',
    auth: 'admin',
    wire: 'problem',
    query: ApprovalQuerySchema,
    responses: { '200': ok('ApprovalList'), ...ADMIN_ERRORS, '400': problemReply('invalid query') },
  },
  {
    method: 'post',
    path: '/admin/approvals/{id}',
    tag: 'Admin: approvals',
    summary: 'Decide an approval request',
    description: 'The polling agent then gets its token (approve) or access_denied (deny).',
    auth: 'admin',
    wire: 'problem',
    pathParams: { id: 'approval id (the auth_req_id)' },
    body: { type: 'application/json', schema: 'ApprovalDecision' },
    responses: {
      '200': ok('Approval'),
      ...ADMIN_BODY_ERRORS,
      '404': problemReply('no such approval request'),
      '409': problemReply('already decided'),
      '410': problemReply('the request expired before a decision'),
    },
  },
  {
    method: 'post',
    path: '/admin/keys/rotate',
    tag: 'Admin: keys',
    summary: 'Rotate the signing key',
    description: 'A new signing key; the old one keeps verifying until its tokens have expired.',
    auth: 'admin',
    wire: 'problem',
    responses: { '200': ok('KeyRotated'), ...ADMIN_ERRORS },
  },
  {
    method: 'post',
    path: '/admin/receivers',
    tag: 'Admin: CAEP receivers',
    summary: 'Register a CAEP receiver',
    description:
      'An RFC 8935 push endpoint that receives a signed Security Event Token (CAEP session-revoked, token-claims-change) whenever a grant on its `audience` (default: its url) ends or shrinks; a narrowing shows it only the entries of its audience. The url must be https on a public address unless config `caep.allow_http` / `caep.allow_private_targets` allow more (400 otherwise); each push goes to a freshly resolved and checked address, without following redirects.',
    auth: 'admin',
    wire: 'problem',
    body: { type: 'application/json', schema: 'ReceiverInput' },
    responses: {
      '201': ok('Receiver', 'created'),
      ...ADMIN_BODY_ERRORS,
      '409': problemReply('the id is taken'),
    },
  },
  {
    method: 'get',
    path: '/admin/receivers',
    tag: 'Admin: CAEP receivers',
    summary: 'List CAEP receivers',
    description: 'Bearer tokens are only said to exist.',
    auth: 'admin',
    wire: 'problem',
    responses: { '200': ok('ReceiverList'), ...ADMIN_ERRORS },
  },
  {
    method: 'delete',
    path: '/admin/receivers/{id}',
    tag: 'Admin: CAEP receivers',
    summary: 'Remove a CAEP receiver',
    description: 'Stops pushes to it.',
    auth: 'admin',
    wire: 'problem',
    pathParams: { id: 'receiver id' },
    responses: {
      '200': ok('ReceiverDeleted'),
      ...ADMIN_ERRORS,
      '404': problemReply('no such receiver'),
    },
  },
];

const SECURITY: Record<Auth, Array<Record<string, string[]>>> = {
  none: [],
  client: [{ clientBasic: [] }],
  resource: [{ clientBasic: [] }],
  admin: [{ adminBearer: [] }],
  resource_or_admin: [{ clientBasic: [] }, { adminBearer: [] }],
};

/** A zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect), without its `$schema` header. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  // Refinements (e.g. "exactly one of") cannot be expressed and are described in prose instead.
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, {
    io,
    unrepresentable: 'any',
    target: 'draft-2020-12',
  }) as Record<string, unknown>;
  return rest;
}

function parametersOf(e: Endpoint): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const [name, description] of Object.entries(e.pathParams ?? {}))
    out.push({ name, in: 'path', required: true, description, schema: { type: 'string' } });
  if (e.query) {
    const js = jsonSchemaOf(e.query, 'input') as {
      properties?: Record<string, Record<string, unknown>>;
      required?: string[];
    };
    for (const [name, schema] of Object.entries(js.properties ?? {}))
      out.push({ name, in: 'query', required: js.required?.includes(name) ?? false, schema });
  }
  return out;
}

function operationOf(e: Endpoint): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(e.responses)) {
    const contentType = r.contentType ?? 'application/json';
    responses[status] = {
      description: r.description,
      ...(r.schema
        ? { content: { [contentType]: { schema: { $ref: `#/components/schemas/${r.schema}` } } } }
        : r.contentType
          ? { content: { [contentType]: { schema: { type: 'string' } } } }
          : {}),
    };
  }
  const parameters = parametersOf(e);
  return {
    operationId: `${e.method}${e.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`,
    tags: [e.tag],
    summary: e.summary,
    description: e.description,
    security: SECURITY[e.auth],
    ...(parameters.length ? { parameters } : {}),
    ...(e.body
      ? {
          requestBody: {
            required: true,
            content: {
              [e.body.type]: { schema: { $ref: `#/components/schemas/${e.body.schema}` } },
            },
          },
        }
      : {}),
    responses,
  };
}

/** The operations the document describes, as `METHOD /path` with Hono-style `:params`. */
export function documentedRoutes(): string[] {
  return ENDPOINTS.map((e) => `${e.method.toUpperCase()} ${e.path.replace(/\{([^}]+)\}/g, ':$1')}`);
}

/**
 * Builds the OpenAPI 3.1 document of the whole HTTP API. Request bodies and query parameters
 * come from the zod schemas the routes validate with, so the document cannot drift from them.
 */
export function buildOpenApiDocument(opts: {
  readonly issuer: string;
  readonly version?: string;
}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const e of ENDPOINTS) {
    paths[e.path] ??= {};
    (paths[e.path] as Record<string, unknown>)[e.method] = operationOf(e);
  }
  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(REQUESTS))
    schemas[name] = jsonSchemaOf(schema, 'input');
  for (const [name, schema] of Object.entries(RESPONSES))
    schemas[name] = jsonSchemaOf(schema, 'output');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Mandate',
      version: opts.version ?? '1',
      summary: 'Just-in-time, task-bound credentials for AI agents',
      description:
        'OAuth endpoints answer RFC 6749 JSON errors; the admin API and signals answer RFC 9457 problem+json; the AuthZEN endpoints keep the AuthZEN shape with `decision: false` on every error.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    servers: [{ url: opts.issuer }],
    tags: [...new Set(ENDPOINTS.map((e) => e.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        clientBasic: {
          type: 'http',
          scheme: 'basic',
          description:
            'client_secret_basic (RFC 6749 2.3.1): client_id and client_secret, each form-encoded, as HTTP Basic. On the form-encoded OAuth endpoints client_secret_post (both in the body) works too.',
        },
        adminBearer: {
          type: 'http',
          scheme: 'bearer',
          description: 'the admin token (MANDATE_ADMIN_TOKEN)',
        },
      },
    },
  };
}
