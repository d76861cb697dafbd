// Reads a console form post (application/x-www-form-urlencoded) into a checked object.
import type { Context } from 'hono';
import type { z } from 'zod';
import { ProblemError } from '../../domain/errors.ts';

/** The posted form checked against `schema`; 415 for another content type, 400 naming the bad field. */
export async function readForm<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const type = c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new ProblemError(415, 'Unsupported form', 'post the form as the page sends it');
  const params = new URLSearchParams(await c.req.text());
  const fields: Record<string, string> = {};
  for (const [name, value] of params) {
    if (name in fields) throw new ProblemError(400, 'Invalid form', `${name} is repeated`);
    fields[name] = value;
  }
  const parsed = schema.safeParse(fields);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'form';
    throw new ProblemError(400, 'Invalid form', `${field}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
