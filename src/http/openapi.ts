// The OpenAPI document's top matter and the pieces every route's contract shares; the operations are declared by the routes (`createRoute`) and collected from the apps.
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import { OAUTH_ERROR_CODES } from '../domain/errors.ts';
import { AuthZenDecisionSchema } from '../domain/wire/authzen.ts';

// Shared shapes: each wire format's error body, named once as a component.

export const OAuthErrorSchema = z
  .object({
    error: z
      .enum(OAUTH_ERROR_CODES as [string, ...string[]])
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
    id: 'OAuthError',
    description: 'RFC 6749 section 5.2 error (Cache-Control: no-store; WWW-Authenticate on 401)',
  });

export const ProblemSchema = z
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
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });

// Security: who may call an operation.

export const CLIENT_AUTH = [{ clientBasic: [] }];
export const ADMIN_AUTH = [{ adminBearer: [] }];
export const NO_AUTH: Array<Record<string, string[]>> = [];

// Responses of each wire format.

export interface Reply {
  readonly description: string;
  readonly content: Record<string, { schema: z.ZodType }>;
}

/** An RFC 6749 JSON error response. */
export const oauthError = (description: string): Reply => ({
  description,
  content: { 'application/json': { schema: OAuthErrorSchema } },
});

/** An RFC 9457 problem+json response. */
export const problemReply = (description: string): Reply => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

/** An AuthZEN refusal (`decision: false`). */
export const authzenError = (description: string): Reply => ({
  description,
  content: { 'application/json': { schema: AuthZenDecisionSchema } },
});

export const OAUTH_ERRORS = {
  400: oauthError(
    'invalid_request (missing, malformed or repeated parameter; wrong content type) or another RFC 6749 code',
  ),
  401: oauthError('invalid_client: unknown client or wrong credentials'),
  429: oauthError('too many failed authentications'),
  503: oauthError('temporarily_unavailable: retry shortly'),
} as const;

export const AUTHZEN_ERRORS = {
  400: authzenError('invalid request (decision false, reason_admin.code invalid_request)'),
  401: authzenError('resource client authentication is required'),
  403: authzenError('only resource clients may ask for decisions'),
  413: authzenError('body too large'),
  415: authzenError('the body must be application/json'),
  429: authzenError('too many invalid tokens or failed authentications'),
  503: authzenError('Mandate cannot check this now (fail closed)'),
} as const;

export const ADMIN_ERRORS = {
  401: problemReply('missing or invalid admin bearer token'),
  429: problemReply('too many failed authentications'),
  503: problemReply('the store cannot be reached; nothing was changed'),
} as const;

export const ADMIN_BODY_ERRORS = {
  ...ADMIN_ERRORS,
  400: problemReply('invalid body: `errors` names each failing field'),
  413: problemReply('body too large'),
  415: problemReply('the body must be application/json'),
} as const;

/** A JSON success response with its schema and an example. */
export function jsonReply<S extends z.ZodType>(
  description: string,
  schema: S,
  example: z.input<S>,
) {
  return { description, content: { 'application/json': { schema, example } } };
}

// Requests: documented here, read by the routes' own readers.

/**
 * A request body documented by the schema the route validates with. zod-openapi would validate
 * any zod schema it is handed, with its own error body; the routes read their bodies themselves
 * (their wire format's errors, the JSON bounds, the repeated-parameter rule), so the operation
 * names the schema by reference and the app registers it as a component.
 */
export function requestBody(
  app: Pick<OpenAPIHono, 'openAPIRegistry'>,
  name: string,
  schema: z.ZodType,
  type: 'application/json' | 'application/x-www-form-urlencoded',
  example: unknown,
) {
  app.openAPIRegistry.registerComponent('schemas', name, jsonSchemaOf(schema, 'input'));
  return {
    required: true,
    content: { [type]: { schema: { $ref: `#/components/schemas/${name}` }, example } },
  };
}

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

/** Query parameters documented from the schema the route parses them with (the route reports its own errors). */
export function queryParameters(schema: z.ZodObject) {
  const js = jsonSchemaOf(schema, 'input') as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(js.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query' as const,
    required: js.required?.includes(name) ?? false,
    schema: s,
  }));
}

/** A path parameter (the route checks it and answers 404 for one that cannot exist). */
export function pathParameter(name: string, description: string) {
  return {
    name,
    in: 'path' as const,
    required: true,
    description,
    schema: { type: 'string' as const },
  };
}

/**
 * The OpenAPI 3.1 document of everything `app` serves, generated from the routes' declarations,
 * with the top matter and security schemes.
 */
export function buildOpenApiDocument(
  app: Pick<OpenAPIHono, 'openAPIRegistry' | 'getOpenAPI31Document'>,
  opts: { readonly issuer: string; readonly version?: string },
): Record<string, unknown> {
  app.openAPIRegistry.registerComponent('securitySchemes', 'clientBasic', {
    type: 'http',
    scheme: 'basic',
    description:
      'client_secret_basic (RFC 6749 2.3.1): client_id and client_secret, each form-encoded, as HTTP Basic. On the form-encoded OAuth endpoints client_secret_post (both in the body) works too.',
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'adminBearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'the admin token (MANDATE_ADMIN_TOKEN)',
  });
  // `summary` and license `identifier` are OpenAPI 3.1 fields the generator's (3.0) types do not know.
  const info = {
    title: 'Mandate',
    version: opts.version ?? '1',
    summary: 'Just-in-time, task-bound credentials for AI agents',
    description:
      'OAuth endpoints answer RFC 6749 JSON errors; the admin API and signals answer RFC 9457 problem+json; the AuthZEN endpoints keep the AuthZEN shape with `decision: false` on every error.',
    license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
  };
  const doc = app.getOpenAPI31Document({
    openapi: '3.1.0',
    info,
    servers: [{ url: opts.issuer }],
  }) as unknown as Record<string, unknown>;
  const paths = doc.paths as Record<
    string,
    Record<string, { tags?: string[]; operationId?: string }>
  >;
  const tags = new Set<string>();
  for (const [path, item] of Object.entries(paths))
    for (const [method, op] of Object.entries(item)) {
      for (const t of op.tags ?? []) tags.add(t);
      // `postOauthToken`, `getAdminClientsId`: stable names for client generators.
      op.operationId ??= `${method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ? ch.toUpperCase() : ''))}`;
    }
  return { ...doc, tags: [...tags].map((name) => ({ name })) };
}
