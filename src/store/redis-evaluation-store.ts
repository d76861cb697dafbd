// Evaluation state on Redis, one owner: read a grant's evaluation facts (counting the call), record
// the outcome in the usage counters, commit the decision, guarded or not.
// Scripts: readForEvaluation-8.lua, advanceStep-1.lua, countDenial-1.lua, and the guard include
// (includes/evaluationGuard.lua) that this module contributes to the decision log's append.
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GrantStatus } from '../domain/grant.ts';
import {
  CALLS_WINDOW,
  type CountRange,
  DENIED_WINDOW,
  windowAt,
  windowTtlSec,
} from '../domain/policy-facts.ts';
import type {
  DecisionLog,
  EvaluationGuard,
  EvaluationState,
  EvaluationStore,
  ProvingRead,
} from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import { guard, type RedisClient } from './redis-connection.ts';
import type { AppendPrecondition, ConditionalAppend } from './redis-decision-log.ts';
import { decodeData, decodeSignalSummary, tokenDigestField } from './redis-grant-store.ts';
import { defineScripts, queueScript } from './scripts/load-scripts.ts';

const CALLS_TTL_SEC = windowTtlSec(CALLS_WINDOW);
const DENIED_TTL_SEC = windowTtlSec(DENIED_WINDOW);
/** How long an agent's used actions are remembered after their last use. */
export const USED_ACTIONS_TTL_SEC = 90 * 86_400;

/**
 * Buckets a window spans at most: past this many, a count re-sums the hash rather than walk bucket
 * by bucket (scripts/includes/trailingWindow.lua). Every script that counts takes it as an argument.
 */
export const WINDOW_SPAN = Math.max(CALLS_WINDOW.buckets, DENIED_WINDOW.buckets);

/**
 * The evaluation guard as the append's precondition, for scripts/includes/evaluationGuard.lua:
 * its keys (the grant hash first) and its fields, in the include's order.
 */
export function evaluationGuardPrecondition(
  keys: KeyNames,
  g: EvaluationGuard,
): AppendPrecondition {
  const bound = (n: number | undefined) => (n === undefined ? '' : String(n));
  const range = (r: CountRange) => [bound(r.min), bound(r.max)];
  const calls = windowAt(CALLS_WINDOW, g.nowSec);
  return {
    scope: g.grantId,
    keys: [
      keys.grant(g.grantId),
      keys.grantData(g.grantId),
      keys.grantSignalSummary(g.grantId),
      keys.grantRevokedJtis(g.grantId),
      keys.grantCalls(g.grantId),
      keys.grantDenied(g.grantId),
      keys.usedActions(g.clientId),
    ],
    args: [
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
    ],
  };
}

/**
 * Identifies a grant's data and signal summary as stored (SHA-1: Redis scripts compute it too, and
 * it only tells states apart). The summary is bounded and carries a version counted up by every
 * signal, so this never hashes a grant's signal history.
 */
export function stateDigest(data: string, signalSummary: string): string {
  return hash('sha1', `${data}\n${signalSummary}`, 'hex');
}

type StateReply = [
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
  string | null,
];
/** readForEvaluation-8.lua's reply: no grant, the stored digest alone (nothing counted), or the state. */
type EvaluationReply = null | [string | null] | StateReply;

interface ScriptedRedis extends Redis {
  mandateReadForEvaluation(...args: string[]): Promise<EvaluationReply>;
  mandateCountDenial(
    key: string,
    bucket: string,
    oldest: string,
    ttl: string,
    span: string,
  ): Promise<number>;
}

/** The evaluation facts of a full readForEvaluation reply. */
function stateOf(grantId: string, reply: StateReply): EvaluationState {
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
}

/**
 * The evaluation store: reads and counts on `redis`, commits through `log`; a guarded commit is
 * the log's append with the guard as the precondition this store contributes (its keys, its
 * fields, and includes/evaluationGuard.lua, see evaluationGuardPrecondition), so it stays one
 * round trip, batched with the other records of the turn.
 */
export function createRedisEvaluationStore(
  redis: RedisClient,
  keys: KeyNames,
  log: DecisionLog & ConditionalAppend,
): EvaluationStore {
  const r = redis as ScriptedRedis;
  defineScripts(redis, 'readForEvaluation', 'countDenial');

  /** One call of readForEvaluation-8.lua; `presented` '' reads without a digest check. */
  const readForEvaluation = (
    grantId: string,
    jti: string,
    clientId: string,
    action: string,
    nowSec: number,
    presented: string,
  ): Promise<EvaluationReply> => {
    const window = windowAt(CALLS_WINDOW, nowSec);
    return r.mandateReadForEvaluation(
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
      tokenDigestField(grantId, jti),
      presented,
    );
  };

  return {
    read: (grantId, jti, clientId, action, nowSec) =>
      guard(async () => {
        const reply = await readForEvaluation(grantId, jti, clientId, action, nowSec, '');
        return reply && reply.length > 1 ? stateOf(grantId, reply as StateReply) : undefined;
      }),

    readProving: (grantId, jti, clientId, action, nowSec, tokenDigest) =>
      guard(async (): Promise<ProvingRead> => {
        if (!tokenDigest) throw new TypeError('readProving needs the presented digest');
        const reply = await readForEvaluation(grantId, jti, clientId, action, nowSec, tokenDigest);
        if (!reply) return { grantFound: false };
        const stored = reply.length > 1 ? (reply as StateReply)[12] : reply[0];
        return {
          grantFound: true,
          ...(stored ? { storedDigest: stored } : {}),
          ...(reply.length > 1 ? { state: stateOf(grantId, reply as StateReply) } : {}),
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
            queueScript(p, 'advanceStep', keys.grantStep(grantId), String(step), String(expiresAt));
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

    commit: (input, evaluationGuard) => {
      if (!evaluationGuard) return log.record(input);
      if (evaluationGuard.grantId !== input.grant_id)
        return Promise.reject(new TypeError("a guarded record is about its guard's grant"));
      return log.recordIf(input, evaluationGuardPrecondition(keys, evaluationGuard));
    },
  };
}
