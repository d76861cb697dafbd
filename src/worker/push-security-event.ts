// One RFC 8935 push: connects only to an address checked just before connecting, follows no redirect, bounded in time and answer size.
import { promises as dns, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import {
  addressProblem,
  type ReceiverTargetPolicy,
  receiverUrlProblem,
} from '../domain/receiver-target.ts';

/** The receiver's URL or an address its name resolved to is not allowed: retrying will not help. */
export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/** Resolves a host name to every address it has (the system resolver by default). */
export type ResolveAll = (hostname: string, family: number) => Promise<LookupAddress[]>;

const resolveWithSystem: ResolveAll = (hostname, family) =>
  dns.lookup(hostname, { all: true, family });

/** At most this much of an answer is kept: enough for an RFC 8935 `{"err": ...}`. */
const MAX_ANSWER_BYTES = 4096;

/**
 * A socket `lookup` that resolves the name, checks every address it resolved to, and hands the
 * socket only those checked addresses; one refused address refuses them all (a name that can
 * point at an internal host is refused, whichever address a connection would have picked).
 */
export function checkedLookup(
  targets: ReceiverTargetPolicy,
  resolve: ResolveAll = resolveWithSystem,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options.family === 4 || options.family === 6 ? options.family : 0)
      .then((addresses) => {
        if (!addresses.length) throw new TargetRefused(`${hostname} resolved to no address`);
        for (const a of addresses) {
          const problem = addressProblem(a.address, targets);
          if (problem)
            throw new TargetRefused(`${hostname} resolved to ${a.address}, which ${problem}`);
        }
        const [first] = addresses as [LookupAddress];
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      })
      .catch((err: Error) => callback(err, '', 0));
  };
}

export interface PushOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The whole push: resolve, connect, send, answer. */
  readonly timeoutMs: number;
  readonly targets: ReceiverTargetPolicy;
  readonly resolve?: ResolveAll | undefined;
}

/**
 * POSTs `body` to `url` and returns the status and the start of the answer. Throws TargetRefused
 * when the URL or a resolved address is not allowed (nothing is sent), and any other error for a
 * network failure or timeout. A 3xx is returned as it is: redirects are never followed.
 */
export function pushSecurityEvent(
  url: string,
  opts: PushOptions,
): Promise<{ status: number; body: string }> {
  const problem = receiverUrlProblem(url, opts.targets);
  if (problem) return Promise.reject(new TargetRefused(`receiver url ${problem}`));
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((ok, fail) => {
    let settled = false;
    const settle = (err: Error | undefined, value?: { status: number; body: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        fail(err);
      } else if (value) ok(value);
    };
    // A fresh connection per push (agent: false): the socket is always to an address checked now.
    const req = request(
      target,
      {
        method: 'POST',
        agent: false,
        headers: { ...opts.headers, 'Content-Length': String(Buffer.byteLength(opts.body)) },
        lookup: checkedLookup(opts.targets, opts.resolve),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          settle(undefined, {
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_ANSWER_BYTES) {
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
