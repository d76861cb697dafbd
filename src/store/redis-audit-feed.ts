// The decision stream as audit sinks follow it: one consumer group per sink, read by one leased writer at a time.
import type { Redis } from 'ioredis';
import type { DecisionRecord } from '../domain/decision-record.ts';
import type { AuditFeed, AuditFeedEntry } from '../domain/ports.ts';
import type { KeyNames } from './key-names.ts';
import type { RedisClient } from './redis-connection.ts';
import { defineScripts } from './scripts/load-scripts.ts';

interface ScriptedRedis extends Redis {
  mandateLeaseSink(lease: string, holder: string, ttlMs: string): Promise<number>;
  mandateReleaseSink(lease: string, holder: string): Promise<number>;
}

/** The one consumer of each group: a sink has one writer at a time (the lease), so one name. */
const CONSUMER = 'writer';

type StreamReply = Array<[string, Array<[string, string[] | null]>]> | null;

/**
 * `redis` must be a patient (worker) client: a sink that fell behind reads large pages. Group
 * cursors live in Redis, so a sink goes on where it stopped after a restart or on another process;
 * a record handed out and not acknowledged (the writer died) is read again (at least once).
 */
export function createRedisAuditFeed(redis: RedisClient, keys: KeyNames): AuditFeed {
  defineScripts(redis, 'leaseSink', 'releaseSink');
  const r = redis as ScriptedRedis;
  const entries = (reply: StreamReply): AuditFeedEntry[] =>
    (reply?.[0]?.[1] ?? []).map(([sid, fields]) => {
      const text = fields?.[1];
      return { sid, text, record: text ? (JSON.parse(text) as DecisionRecord) : undefined };
    });
  return {
    async open(sink) {
      try {
        await redis.xgroup('CREATE', keys.decisions, keys.auditSinkGroup(sink), '$', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    },
    async read(sink, from, count) {
      const id = 'new' in from ? '>' : from.pendingAfter;
      const reply = (await redis.xreadgroup(
        'GROUP',
        keys.auditSinkGroup(sink),
        CONSUMER,
        'COUNT',
        count,
        'STREAMS',
        keys.decisions,
        id,
      )) as StreamReply;
      return entries(reply);
    },
    async ack(sink, sids) {
      if (sids.length) await redis.xack(keys.decisions, keys.auditSinkGroup(sink), ...sids);
    },
    async lag(sink) {
      const groups = (await redis.xinfo('GROUPS', keys.decisions)) as unknown[][];
      for (const g of groups) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
        if (info.get('name') !== keys.auditSinkGroup(sink)) continue;
        // Not yet handed out (lag) plus handed out and not yet written (pending).
        const lag = info.get('lag');
        if (lag === null || lag === undefined) return undefined;
        return Number(lag) + Number(info.get('pending') ?? 0);
      }
      return undefined;
    },
    lease: async (sink, holder, ttlMs) =>
      (await r.mandateLeaseSink(keys.auditSinkLease(sink), holder, String(ttlMs))) === 1,
    async release(sink, holder) {
      await r.mandateReleaseSink(keys.auditSinkLease(sink), holder);
    },
  };
}
