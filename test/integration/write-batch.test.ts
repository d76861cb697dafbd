// The write batch on a real Redis: one call per turn, submission order kept across calls, and a
// failed call rejecting all of its writes (with their `failed` hooks run before the next call is built).
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { StoreUnavailable } from '../../src/domain/errors.ts';
import { type WriteBatch, writeBatchOf } from '../../src/store/redis-write-batch.ts';
import { deleteKeysUnder } from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';

/** Appends ARGV[1] to the list KEYS[1] and answers the list's length; counts calls in KEYS[1]:calls, once per call. */
const PUSH = `function(KEYS, ARGV)
  local calls = KEYS[1] .. ':calls'
  after['count:' .. calls] = function() redis.call('INCR', calls) end
  return redis.call('RPUSH', KEYS[1], ARGV[1])
end`;
/** INCR on whatever KEYS[1] is: a runtime error when it holds a list. */
const INCR = `function(KEYS, ARGV) return redis.call('INCR', KEYS[1]) end`;

describe('redis write batch', () => {
  let redis: Redis;
  let batch: WriteBatch;
  const prefix = uniquePrefix('write-batch');
  const redisUrl = () => inject('redisUrl');
  const key = (name: string) => `${prefix}${name}`;
  const push = (list: string, value: string, onArgs?: () => void, failed?: () => void) =>
    batch.submit({
      op: 'push',
      keys: [key(list)],
      args: () => {
        onArgs?.();
        return [value];
      },
      ...(failed ? { failed } : {}),
    });

  beforeAll(async () => {
    redis = new Redis(redisUrl(), { lazyConnect: true });
    await redis.connect();
    batch = writeBatchOf(redis);
    batch.register('push', PUSH);
    batch.register('incr', INCR);
  });
  afterAll(async () => {
    redis?.disconnect();
    await deleteKeysUnder(redisUrl(), prefix);
  });

  it('is one batch per connection', () => {
    expect(writeBatchOf(redis)).toBe(batch);
  });

  it('sends the writes of one turn in one call, in submission order', async () => {
    const results = await Promise.all(['a', 'b', 'c'].map((v) => push('same-turn', v)));
    expect(results).toEqual([1, 2, 3]);
    expect(await redis.lrange(key('same-turn'), 0, -1)).toEqual(['a', 'b', 'c']);
    // The op's `after` closure runs once per call, whatever the number of writes in it.
    expect(await redis.get(key('same-turn:calls'))).toBe('1');
  });

  it('keeps submission order across calls, building arguments only when a call is sent', async () => {
    const built: string[] = [];
    const first = push('order', 'x', () => built.push('x'));
    expect(built).toEqual([]);
    await new Promise((r) => setImmediate(r));
    // x's call is in flight: y waits for it, then goes in the next call.
    const second = push('order', 'y', () => built.push('y'));
    await Promise.all([first, second]);
    expect(built).toEqual(['x', 'y']);
    expect(await redis.lrange(key('order'), 0, -1)).toEqual(['x', 'y']);
  });

  it('rejects every write of a failed call and runs their failed hooks before the next call is built', async () => {
    await redis.rpush(key('not-a-counter'), 'list');
    const events: string[] = [];
    const doomed = [
      push('failed-call', 'p', undefined, () => events.push('failed p')),
      batch.submit({ op: 'incr', keys: [key('not-a-counter')], args: () => [], failed: () => events.push('failed incr') }),
    ];
    const settled = await Promise.allSettled(doomed);
    const next = await push('after-failure', 'q', () => events.push('built q'));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    for (const s of settled) expect((s as PromiseRejectedResult).reason).toBeInstanceOf(StoreUnavailable);
    expect(events).toEqual(['failed p', 'failed incr', 'built q']);
    expect(next).toBe(1);
  });

  it('refuses an op nobody registered, sending nothing', async () => {
    await expect(batch.submit({ op: 'nope', keys: [], args: () => [] })).rejects.toThrow(/not registered/);
  });
});
