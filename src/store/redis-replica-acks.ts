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
  /**
   * The key each confirmation writes (its marker), so that WAIT has a write of its own connection
   * to wait for; on Cluster it lies in the slot of the writes it confirms.
   */
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
   * rejects with WriteNotConfirmed when that cannot be had within the timeout. `writer` is the
   * client the writes were made on (on Cluster its slot map says which primary took them).
   */
  confirm(writer?: RedisClient): Promise<void>;
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

/**
 * Where the primary that takes the confirmed writes is. One server or a Sentinel-watched primary
 * has one name for it whatever server it is (onePrimary: the connections follow it by themselves);
 * on Cluster it is the node owning the grant world's slot now (see cluster-slot-primary.ts).
 */
export interface PrimaryLocator {
  /** Learns what it needs (on Cluster, the slot); before the connections open. */
  start(): Promise<void>;
  /**
   * The primary's name now ('' when none is known), as `writer` (the client a write was made on)
   * routes writes, or as the process's request client does.
   */
  current(writer?: RedisClient): string;
  /** A confirmation connection to `primary` (not yet connected). */
  open(name: string, primary: string): RedisClient;
  /** The client INFO about `primary` is read on. */
  probe(primary: string): RedisClient;
  /** Asks for a fresh look: a confirmation failed, the primary may have moved. */
  recheck(): void;
  /** Calls `looked` whenever a fresh look was had (on Cluster, each slot map refresh). */
  watch(looked: () => void): void;
}

/** The one primary of a single server or of Sentinel: `open` and `probe` reach it wherever it is. */
export function onePrimary(
  open: (name: string) => RedisClient,
  probe: RedisClient,
): PrimaryLocator {
  return {
    start: async () => undefined,
    current: () => 'primary',
    open: (name) => open(name),
    probe: () => probe,
    recheck: () => undefined,
    watch: () => undefined,
  };
}

interface Waiter {
  readonly atMs: number;
  /** The primary the write went to, as known when it answered. */
  readonly primary: string;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

interface AckConnection {
  /** Unset only before its first attach. */
  redis?: RedisClient;
  readonly name: string;
  /** The primary it was opened to. */
  primary: string;
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
 * `where` says which primary takes the writes, opens confirmation connections to it and names the
 * client INFO is read on (one small command every `watchEveryMs`). A confirmation covers only
 * writes made on the primary its connection reaches: a write whose primary differs, or that was
 * made before the primary last changed or before the connection (re)connected, is not confirmed.
 */
export function createReplicaAcks(where: PrimaryLocator, opts: ReplicaAckOptions): ReplicaAcks {
  const pool: AckConnection[] = [];
  const idle: AckConnection[] = [];
  let pending: Waiter[] = [];
  let scheduled = false;
  let seenReplica = false;
  let facts: PrimaryFacts = { replicas: 0, waitaof: false };
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let lastPrimary = '';
  /** When the primary was last seen to change: no write made before can be confirmed. */
  let movedAtMs = 0;

  // Automatic mode latches: a replica that goes away is the failure this guards against, so
  // writes then wait (and fail) rather than quietly stop being replicated. Set 0 to run without.
  const required = () => opts.minReplicas ?? (seenReplica ? 1 : 0);

  const notConfirmed = (batch: readonly Waiter[], detail: string, cause?: unknown) => {
    if (batch.length > 0) opts.counted?.('not_confirmed', batch.length);
    const err = new WriteNotConfirmed(detail, cause);
    for (const w of batch) w.reject(err);
  };

  const primaryNow = () => {
    const p = where.current();
    if (p !== lastPrimary) {
      if (lastPrimary !== '')
        opts.warn(
          { from: lastPrimary, to: p || '(unknown)' },
          'the Redis primary of the grants moved: writes made before are not confirmed (503)',
        );
      lastPrimary = p;
      movedAtMs = Date.now();
      // Idle connections follow at once (busy ones when released), so that the next writes find
      // one ready on the new primary.
      if (p !== '') for (const conn of idle.filter((c) => c.primary !== p)) repoint(conn);
    }
    return p;
  };

  /** Takes `conn` out of use while it is pointed at the current primary, then back. */
  const repoint = (conn: AckConnection) => {
    const at = idle.indexOf(conn);
    if (at !== -1) idle.splice(at, 1);
    void attach(conn, lastPrimary)
      .catch(() => undefined)
      .then(() => release(conn));
  };

  /**
   * Points `conn` at `primary` with a new connection (closing the one it had): it is ready (its
   * readyAtMs) from each (re)connection of that connection on. Rejects when it cannot connect now;
   * it then reconnects by itself.
   */
  const attach = async (conn: AckConnection, primary: string) => {
    conn.redis?.disconnect();
    const redis = where.open(conn.name, primary);
    conn.redis = redis;
    conn.primary = primary;
    conn.readyAtMs = Number.POSITIVE_INFINITY;
    redis.on('ready', () => {
      if (conn.redis === redis) conn.readyAtMs = Date.now();
    });
    await redis.connect();
  };

  const send = async (conn: AckConnection, batch: Waiter[]) => {
    if (closed) return notConfirmed(batch, 'shutting down');
    const primary = primaryNow();
    if (primary === '') {
      notConfirmed(batch, 'no Redis primary known for the grants');
      where.recheck();
      return release(conn);
    }
    if (conn.primary !== primary) {
      // The primary moved: every write waiting was made before a connection reaches it (release
      // points this one at the new primary).
      notConfirmed(batch, 'the Redis primary moved');
      return release(conn);
    }
    const n = required();
    const now = Date.now();
    // A connection that (re)connected after a write was made may reach another server (a failover);
    // a write made on another primary, or before the primary last moved, is not its to confirm.
    const usable = batch.filter(
      (w) =>
        w.primary === conn.primary &&
        w.atMs >= conn.readyAtMs &&
        w.atMs >= movedAtMs &&
        now - w.atMs < opts.timeoutMs,
    );
    notConfirmed(
      batch.filter((w) => !usable.includes(w)),
      'no replica acknowledgement in time',
    );
    if (usable.length === 0) return release(conn);
    const oldest = Math.min(...usable.map((w) => w.atMs));
    const waitMs = String(Math.max(1, opts.timeoutMs - (now - oldest)));
    const aof = facts.waitaof;
    try {
      const p = (conn.redis as RedisClient).pipeline().incr(opts.markerKey);
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
      // A MOVED or a lost connection: the primary may have changed; look again.
      where.recheck();
      // WAITAOF refused (AOF turned off since): read the facts again before the next one.
      if (aof) void refresh().catch(() => undefined);
    }
    release(conn);
  };

  const release = (conn: AckConnection) => {
    if (closed) return;
    if (lastPrimary !== '' && conn.primary !== lastPrimary) return repoint(conn);
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
    const info = (await where
      .probe(primaryNow())
      .call('INFO', 'server', 'persistence', 'replication')) as string;
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
    confirm(writer) {
      if (required() === 0) return Promise.resolve();
      primaryNow();
      const primary = where.current(writer);
      return new Promise<void>((resolve, reject) => {
        pending.push({ atMs: Date.now(), primary, resolve, reject });
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
      await where.start();
      // A move seen by a refresh of the writers' map re-points the idle connections at once.
      where.watch(() => {
        if (!closed) primaryNow();
      });
      const seen = await refresh();
      if (opts.minReplicas !== undefined && seen.replicas < opts.minReplicas)
        opts.warn(
          { replicas: seen.replicas, min_replicas_ack: opts.minReplicas },
          'Redis has fewer replicas than redis.min_replicas_ack: revocations and new grants answer 503 until enough replicas are connected',
        );
      for (let i = 0; i < opts.connections; i++) {
        const primary = primaryNow();
        if (primary === '') throw new Error('Redis: no primary known for the grants');
        const conn: AckConnection = { name: `mandate-ack-${i}`, primary, readyAtMs: 0 };
        await attach(conn, primary);
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
      for (const c of pool) c.redis?.disconnect();
    },
  };
}
