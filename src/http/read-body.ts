// Request bodies: content type checked, repeated OAuth parameters refused, JSON parsed with zod.
import type { Context } from 'hono';
import type { z } from 'zod';
import { OAuthError, ProblemError } from '../domain/errors.ts';

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
    if (seen.has(key) && !REPEATABLE.has(key)) throw new OAuthError('invalid_request', `parameter ${key} is repeated`);
    seen.add(key);
  }
  return {
    get: (name) => params.get(name) ?? undefined,
    all: (name) => params.getAll(name),
  };
}

/** Reads a JSON body against a schema; problem+json 415/400 naming each failing field. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') throw new ProblemError(415, 'Unsupported media type', 'the body must be application/json');
  let raw: unknown;
  try {
    raw = JSON.parse(await c.req.text());
  } catch {
    throw new ProblemError(400, 'Invalid JSON', 'the body is not valid JSON');
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
    throw new ProblemError(400, 'Invalid request', errors.map((e) => `${e.path}: ${e.message}`).join('; '), errors);
  }
  return parsed.data;
}
