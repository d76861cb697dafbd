// The body limit each sub-app puts before its routes, answering 413 in that sub-app's wire format.
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { discardBody } from './discard-body.ts';
import type { HttpDeps } from './http-deps.ts';

/** The 413 of a wire format. */
export type TooLargeRenderer = (c: Context, maxBytes: number) => Response | Promise<Response>;

/**
 * A body limit of `maxBytes`. With a Content-Length (and no chunking) Node's parser already holds
 * the body to that length: the header decides, and the body stays on node-server's fast path (no
 * web stream built). Otherwise (chunked) hono's `bodyLimit` counts the stream as it is read.
 */
export function createBodyLimit(
  deps: Pick<HttpDeps, 'oversizedBodyDrainBytes'>,
  maxBytes: number,
  tooLarge: TooLargeRenderer,
): MiddlewareHandler {
  const streaming = bodyLimit({ maxSize: maxBytes, onError: (c) => tooLarge(c, maxBytes) });
  return async function limitBody(c, next) {
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxBytes)
        return refuseOversized(deps, c, Number(length), tooLarge(c, maxBytes));
      return next();
    }
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return streaming(c, next);
  };
}

/**
 * The refusal of a body declared larger than the limit. A body within the drain bound is read
 * and dropped first, so a client that writes it all before reading sees the answer rather than
 * a reset; the connection then stays usable. A larger one is answered at once and closed.
 */
export async function refuseOversized(
  deps: Pick<HttpDeps, 'oversizedBodyDrainBytes'>,
  c: Context,
  declaredBytes: number,
  res: Response | Promise<Response>,
): Promise<Response> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) return res;
  const drained =
    declaredBytes <= (deps.oversizedBodyDrainBytes ?? 0) &&
    (await discardBody(incoming, declaredBytes));
  const answer = await res;
  if (!drained) answer.headers.set('Connection', 'close');
  return answer;
}
