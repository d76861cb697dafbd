// Request bodies: content type checked, repeated OAuth parameters refused, JSON parsed with zod.
import type { Context } from 'hono';
import type { z } from 'zod';
import { OAuthError, type OAuthErrorCode, ProblemError } from '../domain/errors.ts';
import { DEFAULT_JSON_LIMITS, type JsonLimits, parseJsonWithin } from '../domain/json-bounds.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** Bounds on every JSON body (config `server.json_*`), set for each request by the app. */
    jsonLimits: JsonLimits;
  }
}

/** The JSON bounds in force for this request (the defaults when the app set none). */
export function jsonLimitsOf(c: Context): JsonLimits {
  return c.get('jsonLimits') ?? DEFAULT_JSON_LIMITS;
}

/** Parameters that RFC 8707 allows more than once. */
const REPEATABLE = new Set(['resource']);

export interface OAuthForm {
  get(name: string): string | undefined;
  all(name: string): string[];
}

/** Reads an application/x-www-form-urlencoded body; a parameter sent twice is invalid_request (RFC 6749 3.2). */
export async function readOAuthForm(c: Context): Promise<OAuthForm> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the body must be application/x-www-form-urlencoded');
  }
  const params = new URLSearchParams(await c.req.text());
  const seen = new Set<string>();
  for (const key of params.keys()) {
    if (seen.has(key) && !REPEATABLE.has(key))
      throw new OAuthError('invalid_request', `parameter ${key} is repeated`);
    seen.add(key);
  }
  return {
    get: (name) => params.get(name) ?? undefined,
    all: (name) => params.getAll(name),
  };
}

/**
 * Validates an OAuth form against the zod object schema that documents it (OpenAPI is built from
 * the same schema). Each field of the schema is read once, a repeatable one as an array. A field
 * that is missing or malformed is invalid_request naming it; `codes` gives another RFC code for a
 * field that has a value the schema refuses (e.g. `grant_type` -> unsupported_grant_type).
 */
export function parseOAuthForm<S extends z.ZodObject>(
  form: OAuthForm,
  schema: S,
  codes: Partial<Record<string, OAuthErrorCode>> = {},
): z.infer<S> {
  const raw: Record<string, string | string[] | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    if (REPEATABLE.has(key)) {
      const all = form.all(key);
      raw[key] = all.length ? all : undefined;
    } else raw[key] = form.get(key);
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = String(issue?.path[0] ?? '');
  const code = codes[field];
  if (code && raw[field]) throw new OAuthError(code, `${field} is not supported`);
  // Name the field, never echo its value: it may be a token or a secret.
  throw new OAuthError(
    'invalid_request',
    raw[field] === undefined && field
      ? `${field} is required`
      : `${field || 'request'}: ${issue?.message ?? 'invalid'}`,
  );
}

/**
 * Reads a JSON body against a schema; problem+json 415/400 naming each failing field. The value is
 * checked against the JSON bounds before the schema sees it, so nothing nested deeper or larger
 * than they allow reaches a service (or a recursive serialisation behind it).
 */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json')
    throw new ProblemError(415, 'Unsupported media type', 'the body must be application/json');
  const body = parseJsonWithin(await c.req.text(), jsonLimitsOf(c));
  if (!body.ok) {
    if (body.reason === 'syntax')
      throw new ProblemError(400, 'Invalid JSON', 'the body is not valid JSON');
    throw new ProblemError(400, 'Invalid request', body.message, [
      { path: body.field, message: body.message },
    ]);
  }
  const parsed = schema.safeParse(body.value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({
      path: i.path.join('.') || '(body)',
      message: i.message,
    }));
    throw new ProblemError(
      400,
      'Invalid request',
      errors.map((e) => `${e.path}: ${e.message}`).join('; '),
      errors,
    );
  }
  return parsed.data;
}

/** Reads the query string against a schema; problem+json 400 `Invalid query` naming each failing parameter. */
export function readQuery<S extends z.ZodType>(c: Context, schema: S): z.infer<S> {
  const q = schema.safeParse(c.req.query());
  if (!q.success)
    throw new ProblemError(
      400,
      'Invalid query',
      q.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
    );
  return q.data;
}

/** A path parameter read by `schema`; one that cannot be an id names nothing: 404 `<what> not found`. */
export function readPathId<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    throw new ProblemError(404, `${what} not found`, `no such ${what.toLowerCase()}`);
  return parsed.data;
}
