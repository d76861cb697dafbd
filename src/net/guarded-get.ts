// Bounded outbound HTTP: a fresh connection through a given lookup, no redirect followed, one deadline, the answer read up to a cap.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

/** The answer was larger than the cap: reading stopped there. */
export class ResponseTooLarge extends Error {
  override readonly name = 'ResponseTooLarge';
}

export interface GuardedGetOptions {
  /** The whole fetch: resolve, connect, TLS, headers and body (ms). */
  readonly timeoutMs: number;
  /** Largest body read (bytes); a larger declared or sent body fails with ResponseTooLarge. */
  readonly maxBytes: number;
  /** Plain http URLs; otherwise https only. */
  readonly allowHttp?: boolean | undefined;
  /** How the host name becomes an address (see checkedLookup); the system resolver otherwise. */
  readonly lookup?: LookupFunction | undefined;
  /** Extra CA certificates to trust (tests with a private CA); the system store otherwise. */
  readonly ca?: string | Buffer | undefined;
  readonly headers?: Readonly<Record<string, string>> | undefined;
  /** Aborts the fetch (jose's own timeout). */
  readonly signal?: AbortSignal | undefined;
}

export interface GuardedResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One request's shape and bounds (see guardedRequest). */
export interface GuardedRequestOptions extends Omit<GuardedGetOptions, 'allowHttp'> {
  readonly method: 'GET' | 'POST';
  readonly body?: string | undefined;
  /** Past `maxBytes`: fail with ResponseTooLarge, or answer with the first `maxBytes` read. */
  readonly overflow: 'fail' | 'truncate';
}

/**
 * GETs `url` over a fresh connection (no pooled socket: each fetch connects to an address its
 * lookup checked now). A 3xx is returned as it is: redirects are never followed. Rejects on a
 * refused scheme, a network failure, the deadline, or a body over `maxBytes`.
 */
export function guardedGet(url: string, opts: GuardedGetOptions): Promise<GuardedResponse> {
  if (!URL.canParse(url)) return Promise.reject(new Error('not an absolute URL'));
  const target = new URL(url);
  if (target.protocol !== 'https:' && !(target.protocol === 'http:' && opts.allowHttp))
    return Promise.reject(new Error(`${target.protocol} URLs are not fetched (https only)`));
  return guardedRequest(target, { ...opts, method: 'GET', overflow: 'fail' });
}

/**
 * One request over a fresh connection (agent: false, so the socket is to an address `lookup`
 * checked now), bounded by one deadline and an answer cap; no redirect is followed. The caller
 * has checked the URL's scheme and host.
 */
export function guardedRequest(target: URL, opts: GuardedRequestOptions): Promise<GuardedResponse> {
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const tooLarge = () => new ResponseTooLarge(`answer is larger than ${opts.maxBytes} bytes`);
  return new Promise((ok, fail) => {
    let settled = false;
    const settle = (err: Error | undefined, value?: GuardedResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        fail(err);
      } else if (value) ok(value);
    };
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(opts.body));
    const req = request(
      target,
      {
        method: opts.method,
        agent: false,
        headers,
        ...(opts.lookup && { lookup: opts.lookup }),
        ...(opts.ca !== undefined && { ca: opts.ca }),
        ...(opts.signal && { signal: opts.signal }),
      },
      (res: IncomingMessage) => {
        const declared = Number(res.headers['content-length'] ?? Number.NaN);
        if (opts.overflow === 'fail' && declared > opts.maxBytes) return settle(tooLarge());
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          settle(undefined, {
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).subarray(0, opts.maxBytes),
          });
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > opts.maxBytes && opts.overflow === 'fail') return settle(tooLarge());
          chunks.push(chunk);
          if (size >= opts.maxBytes && opts.overflow === 'truncate') {
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', (err) => settle(err));
        res.on('close', () => settle(new Error('answer cut off')));
      },
    );
    const timer = setTimeout(
      () => settle(new Error(`no answer within ${opts.timeoutMs} ms`)),
      opts.timeoutMs,
    );
    req.on('error', (err) => settle(err));
    req.end(opts.body);
  });
}
