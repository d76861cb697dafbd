// One RFC 8935 push: connects only to an address checked just before connecting, follows no redirect, bounded in time and answer size.
import { type ReceiverTargetPolicy, receiverUrlProblem } from '../domain/receiver-target.ts';
import { checkedLookup, type ResolveAll, TargetRefused } from '../net/checked-lookup.ts';
import { guardedRequest } from '../net/guarded-get.ts';

export { type ResolveAll, TargetRefused };

/** At most this much of an answer is kept: enough for an RFC 8935 `{"err": ...}`. */
const MAX_ANSWER_BYTES = 4096;

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
  return guardedRequest(new URL(url), {
    method: 'POST',
    headers: opts.headers,
    body: opts.body,
    timeoutMs: opts.timeoutMs,
    maxBytes: MAX_ANSWER_BYTES,
    overflow: 'truncate',
    lookup: checkedLookup(opts.targets, opts.resolve),
  }).then((res) => ({ status: res.status, body: res.body.toString('utf8') }));
}
