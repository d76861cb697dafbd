// The first steps of every AuthZEN evaluation: authenticate the resource client, then read the JSON body within bounds.
import type { Context } from 'hono';
import type { z } from 'zod';
import type { Client } from '../../domain/client.ts';
import { OAuthError, StoreUnavailable } from '../../domain/errors.ts';
import { parseJsonWithin } from '../../domain/json-bounds.ts';
import type { Broker } from '../../services/broker.ts';
import { requireResourceClient } from '../../services/introspect-token.ts';
import { authenticateJsonCaller } from '../client-auth.ts';
import { jsonLimitsOf } from '../read-body.ts';
import { AuthZenRefusal, unavailable } from './refusal.ts';

/**
 * The resource client asking, by HTTP Basic or its caller token (`Authorization: Bearer`); 401,
 * 403 or 503 in AuthZEN's shape otherwise.
 */
export async function authenticateResource(c: Context, broker: Broker): Promise<Client> {
  try {
    const caller = await authenticateJsonCaller(c, broker);
    requireResourceClient(caller);
    return caller;
  } catch (err) {
    if (err instanceof StoreUnavailable) throw unavailable();
    if (err instanceof OAuthError && err.code === 'unauthorized_client')
      throw new AuthZenRefusal(403, 'forbidden', 'only resource clients may ask for decisions');
    throw new AuthZenRefusal(401, 'unauthenticated', 'resource client authentication is required', {
      'WWW-Authenticate': 'Basic realm="mandate", Bearer realm="mandate"',
    });
  }
}

/** The JSON body, bounded at parse time: a context nested or sized past the limits never reaches evaluation or its record. */
export async function readEvaluationBody(c: Context): Promise<unknown> {
  if (c.req.header('content-type')?.split(';')[0]?.trim().toLowerCase() !== 'application/json')
    throw new AuthZenRefusal(415, 'invalid_request', 'the body must be application/json');
  const body = parseJsonWithin(await c.req.text(), jsonLimitsOf(c));
  if (!body.ok)
    throw new AuthZenRefusal(
      400,
      'invalid_request',
      body.reason === 'syntax' ? 'the body is not valid JSON' : body.message,
    );
  return body.value;
}

/** Every failing field of a schema, `path: message` joined by `; `. */
export function issuesOf(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}
