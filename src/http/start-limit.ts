// Sign-in starts per source: /oauth/authorize and the console's upstream sign-in each keep state in Redis, so their starts are counted.
import type { Context } from 'hono';
import { clientIp, type HttpDeps } from './http-deps.ts';

/**
 * True when this source started more than `login.starts_per_source_per_minute` sign-ins of
 * `bucket` this minute (every process shares the count); without a counter (tests without rate
 * limits) nothing is limited.
 */
export async function tooManyStarts(
  c: Context,
  deps: HttpDeps,
  bucket: 'authorize' | 'console-sign-in',
): Promise<boolean> {
  const limit = deps.authorization?.startsPerSourcePerMinute;
  const counter = deps.rateLimit?.counter;
  if (!limit || !counter) return false;
  const hit = await counter.hit(bucket, clientIp(c, deps) ?? 'unknown', deps.broker.clock.nowMs());
  // A counter that cannot count fails closed, as the rest of the flow needs the same Redis.
  return hit === undefined || hit.count > limit;
}
