// Acknowledged writes: confirms that what the store wrote is on `redis.min_replicas_ack` replicas (WAIT, or WAITAOF) before a call answers.

import { WriteNotConfirmed } from '../domain/errors.ts';
import type { RedisClient } from './redis-connection.ts';

/** What `redis.min_replicas_ack` and its companions say (see config/schema.ts). */
export interface ReplicaAckOptions {
  /** Replicas a confirmed write must be on; undefined: 1 once the primary was seen with a replica, 0 before. */
  readonly minReplicas: number | undefined;
  /** Longest wait for the replicas, from the moment a write asks to be confirmed. */
  readonly timeoutMs: number;
  /** Connections that carry the confirmations (each blocks while its WAIT runs). */
  readonly connections: number;
  /** The key each confirmation writes (its marker), so that WAIT has a write of its own connection to wait for. */
  readonly markerKey: string;
  /** How often INFO replication is read to notice a replica appearing. */
  readonly watchEveryMs: number;
  readonly warn: (fields: Record<string, unknown>, message: string) => void;
  /** Told how each confirmation ended, with the writes it covered. */
  readonly counted?: (outcome: 'confirmed' | 'not_confirmed', writes: number) => void;
}

/** What the primary is, as INFO says. */
export interface PrimaryFacts {
  readonly replicas: number;
  /** WAITAOF exists (Redis 7.2 and later) and the primary writes an AOF. */
  readonly waitaof: boolean;
}

/**
 * Confirms writes as replicated. A write done on any connection of this process to the primary is
 * covered by `confirm()` called once that write has answered: the confirmation writes a marker on
 * one of its own connections and sends `WAIT n t` (or `WAITAOF 1 n t`) right behind it, and the
 * primary's replication stream is one ordered log, so the replicas holding the marker hold every
 * write before it. Confirmations asked while the connections are busy share the next marker (a
 * group commit): their cost is one round trip plus the replicas' acknowledgement, whatever the load.
 */
export interface ReplicaAcks {
  /** Replicas a write is confirmed on right now (0: confirm() resolves at once). */
  readonly required: number;
  /**
   * Resolves once every write this process saw answered before the call is on `required` replicas;
   * rejects with WriteNotConfirmed when that cannot be had within the timeout.
   */
  confirm(): Promise<void>;
  /** Reads INFO (replicas, version, AOF) now; done at start and every `watchEveryMs`. */
  refresh(): Promise<PrimaryFacts>;
  start(): Promise<void>;
  close(): void;
}

/** Confirmations that never wait (a store used without replicas, or by a test). */
export const unconfirmedWrites: ReplicaAcks = {
  required: 0,
  confirm: async () => undefined,
  refresh: async () => ({ replicas: 0, waitaof: false }),
  start: async () => undefined,
  close: () => undefined,
};

interface Waiter {
  readonly atMs: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface AckConnection {
  readonly redis: RedisClient;
  /** When it last became ready: it cannot confirm a write made before it (re)connected. */
  readyAtMs: number;
}

/** The facts INFO gives about the primary (sections server, persistence, replication). */
export function primaryFactsOf(info: string): PrimaryFacts {
  const field = (name: string) => new RegExp(`^${name}:([^\\r\\n]*)`, 'm').exec(info)?.[1] ?? '';
  const [major = 0, minor = 0] = field('redis_version').split('.').map(Number);
  return {
    replicas: Number(field('connected_slaves') || 0),
    waitaof: (major > 7 || (major === 7 && minor >= 2)) && field('aof_enabled') === '1',
  };
}

/**
 * `open(name)` makes one confirmation connection; `probe` is the client INFO is read on (any
 * request-path client: one small command every `watchEveryMs`).
 */
export function createReplicaAcks(
  open: (name: string) => RedisClient,
  probe: RedisClient,
  opts: ReplicaAckOptions,
): ReplicaAcks {
  const pool: AckConnection[] = [];
  const idle: AckConnection[] = [];
  let pending: Waiter[] = [];
  let scheduled = false;
  let seenReplica = false;
  let facts: PrimaryFacts = { replicas: 0, waitaof: false };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  // Automatic mode latches: a replica that goes away is the failure this guards against, so
  // writes then wait (and fail) rather than quietly stop being replicated. Set 0 to run without.
  const required = () => opts.minReplicas ?? (seenReplica ? 1 : 0);

  const notConfirmed = (batch: readonly Waiter[], detail: string, cause?: unknown) => {
    if (batch.length > 0) opts.counted?.('not_confirmed', batch.length);
    const err = new WriteNotConfirmed(detail, cause);
    for (const w of batch) w.reject(err);
  };

  const send = async (conn: AckConnection, batch: Waiter[]) => {
    const n = required();
    const now = Date.now();
    // A connection that (re)connected after a write was made may reach another server (a failover).
    const usable = batch.filter((w) => w.atMs >= conn.readyAtMs && now - w.atMs < opts.timeoutMs);
    notConfirmed(
      batch.filter((w) => !usable.includes(w)),
      'no replica acknowledgement in time',
    );
    if (usable.length === 0) return release(conn);
    const oldest = Math.min(...usable.map((w) => w.atMs));
    const waitMs = String(Math.max(1, opts.timeoutMs - (now - oldest)));
    const aof = facts.waitaof;
    try {
      const p = conn.redis.pipeline().incr(opts.markerKey);
      if (aof) p.call('WAITAOF', '1', String(n), waitMs);
      else p.call('WAIT', String(n), waitMs);
      const replies = (await p.exec()) ?? [];
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
      const reply = replies[1]?.[1];
      const [local, replicas] = aof ? (reply as [number, number]) : [1, reply as number];
      if (local >= 1 && replicas >= n) {
        opts.counted?.('confirmed', usable.length);
        for (const w of usable) w.resolve();
      } else
        notConfirmed(
          usable,
          `on ${replicas} of ${n} replicas${local < 1 ? ', not in the local AOF' : ''} after ${waitMs} ms`,
        );
    } catch (err) {
      notConfirmed(usable, 'the confirmation failed', err);
      // WAITAOF refused (AOF turned off since): read the facts again before the next one.
      if (aof) void refresh().catch(() => undefined);
    }
    release(conn);
  };

  const release = (conn: AckConnection) => {
    if (closed) return;
    idle.push(conn);
    pump();
  };

  const pump = () => {
    while (pending.length > 0 && idle.length > 0) {
      const conn = idle.pop() as AckConnection;
      const batch = pending;
      pending = [];
      void send(conn, batch);
    }
  };

  const refresh = async () => {
    const info = (await probe.call('INFO', 'server', 'persistence', 'replication')) as string;
    const next = primaryFactsOf(info);
    if (next.replicas > 0 && !seenReplica && opts.minReplicas === undefined)
      opts.warn(
        { replicas: next.replicas, min_replicas_ack: 1 },
        'Redis has a replica: revocations and new grants are now acknowledged once on 1 replica (redis.min_replicas_ack)',
      );
    seenReplica ||= next.replicas > 0;
    facts = next;
    return next;
  };

  return {
    get required() {
      return required();
    },
    confirm() {
      if (required() === 0) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        pending.push({ atMs: Date.now(), resolve, reject });
        // Confirmations asked in this event-loop turn leave together.
        if (scheduled) return;
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          pump();
        });
      });
    },
    refresh,
    async start() {
      const seen = await refresh();
      if (opts.minReplicas !== undefined && seen.replicas < opts.minReplicas)
        opts.warn(
          { replicas: seen.replicas, min_replicas_ack: opts.minReplicas },
          'Redis has fewer replicas than redis.min_replicas_ack: revocations and new grants answer 503 until enough replicas are connected',
        );
      for (let i = 0; i < opts.connections; i++) {
        const conn: AckConnection = { redis: open(`mandate-ack-${i}`), readyAtMs: Date.now() };
        conn.redis.on('ready', () => {
          conn.readyAtMs = Date.now();
        });
        await conn.redis.connect();
        pool.push(conn);
        idle.push(conn);
      }
      timer = setInterval(() => void refresh().catch(() => undefined), opts.watchEveryMs).unref();
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      notConfirmed(pending, 'shutting down');
      pending = [];
      for (const c of pool) c.redis.disconnect();
    },
  };
}
