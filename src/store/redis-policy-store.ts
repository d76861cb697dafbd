// The policy set in force, shared by every process: text and version in one Redis hash.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { PolicyStore } from '../domain/policy-store.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

interface ScriptedRedis extends Redis {
  mandatePutPolicy(
    policy: string,
    counter: string,
    text: string,
    sha: string,
    now: string,
    onlyIfEmpty: string,
  ): Promise<number>;
}

export function createRedisPolicyStore(redis: RedisClient, keys: KeyNames): PolicyStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'putPolicy');
  const put = (text: string, nowSec: number, onlyIfEmpty: boolean) =>
    guard(async () => {
      const sha = createHash('sha256').update(text).digest('hex');
      return Number(
        await r.mandatePutPolicy(
          keys.policy,
          keys.policyVersion,
          text,
          sha,
          String(nowSec),
          onlyIfEmpty ? '1' : '0',
        ),
      );
    });
  return {
    get: () =>
      guard(async () => {
        const h = await redis.hgetall(keys.policy);
        if (!h.version || h.text === undefined) return undefined;
        return {
          version: Number(h.version),
          text: h.text,
          sha256: h.sha256 ?? '',
          updated_at: Number(h.updated_at ?? 0),
        };
      }),
    version: () => guard(async () => Number((await redis.hget(keys.policy, 'version')) ?? 0)),
    put: (text, nowSec) => put(text, nowSec, false),
    seed: (text, nowSec) => put(text, nowSec, true),
  };
}
