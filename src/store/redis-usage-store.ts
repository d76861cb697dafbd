// Usage on the request path: per-grant call and denial counters, the agent's used actions, step progress.
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GrantStatus } from '../domain/grant.ts';
import {
  CALLS_WINDOW,
  type CountRange,
  DENIED_WINDOW,
  windowAt,
  windowCount,
  windowTtlSec,
} from '../domain/policy-facts.ts';
import type { EvaluationGuard, UsageStore } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard } from './redis-connection.ts';
import { decodeData, decodeSignalSummary } from './redis-grant-store.ts';
import { defineScripts } from './scripts/load-scripts.ts';

const CALLS_TTL_SEC = windowTtlSec(CALLS_WINDOW);
const DENIED_TTL_SEC = windowTtlSec(DENIED_WINDOW);
const USED_ACTIONS_TTL_SEC = 90 * 86_400;

/**
 * Buckets a window spans at most: past this many, a count re-sums the hash rather than walk bucket
 * by bucket (scripts/includes/trailingWindow.lua). Every script that counts takes it as an argument.
 */
const WINDOW_SPAN = Math.max(CALLS_WINDOW.buckets, DENIED_WINDOW.buckets);

/**
 * The guard's keys and fields for scripts/includes/evaluationGuard.lua, which the decision log's
 * append script carries after each guarded record (see guardKeys and guardArgs).
 */
export const GUARD_KEY_COUNT = 6;
export const GUARD_ARG_COUNT = 15;

/** The guard's keys for scripts/includes/evaluationGuard.lua, in its order. */
export function guardKeys(keys: KeyNames, g: EvaluationGuard): string[] {
  return [
    keys.grantData(g.grantId),
    keys.grantSignalSummary(g.grantId),
    keys.grantRevokedJtis(g.grantId),
    keys.grantCalls(g.grantId),
    keys.grantDenied(g.grantId),
    keys.usedActions(g.clientId),
  ];
}

/** The guard's fields for scripts/includes/evaluationGuard.lua, in its order. */
export function guardArgs(g: EvaluationGuard): string[] {
  const bound = (n: number | undefined) => (n === undefined ? '' : String(n));
  const range = (r: CountRange) => [bound(r.min), bound(r.max)];
  const calls = windowAt(CALLS_WINDOW, g.nowSec);
  return [
    g.jti,
    g.action,
    String(g.expiresAt),
    String(g.policyVersion),
    g.digest,
    ...range(g.calls),
    ...range(g.denied),
    String(CALLS_TTL_SEC),
    String(USED_ACTIONS_TTL_SEC),
    String(calls.bucket),
    String(calls.oldest),
    String(windowAt(DENIED_WINDOW, g.nowSec).oldest),
    String(WINDOW_SPAN),
  ];
}

/**
 * Identifies a grant's data and signal summary as stored (SHA-1: Redis scripts compute it too, and
 * it only tells states apart). The summary is bounded and carries a version counted up by every
 * signal, so this never hashes a grant's signal history.
 */
export function stateDigest(data: string, signalSummary: string): string {
  return hash('sha1', `${data}\n${signalSummary}`, 'hex');
}

type EvaluationReply = [
  string,
  string,
  string,
  string,
  string | null,
  string,
  number,
  string,
  number,
  number,
  number,
  string | null,
];

interface ScriptedRedis extends Redis {
  mandateAdvanceStep(key: string, index: string, exat: string): Promise<number>;
  mandateReadForEvaluation(...args: string[]): Promise<EvaluationReply | null>;
  mandateCountDenial(
    key: string,
    bucket: string,
    oldest: string,
    ttl: string,
    span: string,
  ): Promise<number>;
}

export function createRedisUsageStore(redis: Redis, keys: KeyNames): UsageStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'advanceStep', 'readForEvaluation', 'countDenial');

  return {
    readForEvaluation: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const window = windowAt(CALLS_WINDOW, nowSec);
        const reply = await r.mandateReadForEvaluation(
          keys.grant(grantId),
          keys.grantData(grantId),
          keys.grantRevokedJtis(grantId),
          keys.grantSignalSummary(grantId),
          keys.grantCalls(grantId),
          keys.grantDenied(grantId),
          keys.usedActions(clientId),
          keys.grantStep(grantId),
          jti,
          action,
          String(CALLS_TTL_SEC),
          String(USED_ACTIONS_TTL_SEC),
          String(window.bucket),
          String(window.oldest),
          String(windowAt(DENIED_WINDOW, nowSec).oldest),
          String(WINDOW_SPAN),
        );
        if (!reply) return undefined;
        const [s, e, c, t, ver, d, revoked, signals, calls, denied, used, step] = reply;
        return {
          status: s as GrantStatus,
          expires_at: Number(e),
          client_id: c,
          grant: {
            ...decodeData(d),
            id: grantId,
            client_id: c,
            task_id: t,
            expires_at: Number(e),
            policy_version: Number(ver ?? 0),
          },
          jtiRevoked: revoked === 1,
          signals: decodeSignalSummary(signals),
          callsLastMinute: Number(calls),
          deniedLastHour: Number(denied),
          actionUsedBefore: used === 1,
          lastStep: step === null ? -1 : Number(step),
          digest: stateDigest(d, signals),
        };
      }),

    recordOutcome: ({ grantId, clientId, action, allowed, newAction, step, expiresAt, nowSec }) =>
      guard(async () => {
        if (allowed) {
          if (!newAction && step === undefined) return 0;
          const p = redis.pipeline();
          if (newAction)
            p.sadd(keys.usedActions(clientId), action).expire(
              keys.usedActions(clientId),
              USED_ACTIONS_TTL_SEC,
            );
          if (step !== undefined)
            p.mandateAdvanceStep(keys.grantStep(grantId), String(step), String(expiresAt));
          await p.exec();
          return 0;
        }
        const { bucket, oldest } = windowAt(DENIED_WINDOW, nowSec);
        return Number(
          await r.mandateCountDenial(
            keys.grantDenied(grantId),
            String(bucket),
            String(oldest),
            String(DENIED_TTL_SEC),
            String(WINDOW_SPAN),
          ),
        );
      }),

    countersOf: (ids, nowSec) =>
      guard(async () => {
        if (!ids.length) return [];
        const p = redis.pipeline();
        for (const id of ids) p.hgetall(keys.grantCalls(id)).hgetall(keys.grantDenied(id));
        const replies = (await p.exec()) ?? [];
        const count = (i: number, oldest: number) => {
          const [err, buckets] = replies[i] ?? [new Error('no reply')];
          if (err) throw err;
          return windowCount((buckets ?? {}) as Record<string, string>, oldest);
        };
        const calls = windowAt(CALLS_WINDOW, nowSec).oldest;
        const denied = windowAt(DENIED_WINDOW, nowSec).oldest;
        return ids.map((_, i) => ({
          calls: count(i * 2, calls),
          denied: count(i * 2 + 1, denied),
        }));
      }),

    usedActionsOf: (queries) =>
      guard(async () => {
        const asked = queries.filter((q) => q.actions.length > 0);
        if (!asked.length) return queries.map(() => new Set<string>());
        const p = redis.pipeline();
        for (const q of asked) p.smismember(keys.usedActions(q.clientId), ...q.actions);
        const replies = (await p.exec()) ?? [];
        const used = new Map<(typeof queries)[number], Set<string>>();
        asked.forEach((q, i) => {
          const [err, flags] = replies[i] ?? [new Error('no reply')];
          // A history that cannot be read is no history: the decision waits for it (fails closed).
          if (err) throw err;
          used.set(q, new Set(q.actions.filter((_, j) => (flags as number[])[j] === 1)));
        });
        return queries.map((q) => used.get(q) ?? new Set<string>());
      }),
  };
}

declare module 'ioredis' {
  interface ChainableCommander {
    mandateAdvanceStep(key: string, index: string, exat: string): ChainableCommander;
  }
}
