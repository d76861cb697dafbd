// ReplicaAcks against a real primary and replica: confirmations share WAITs (group commit), and fail in time when the replica is frozen.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WriteNotConfirmed } from '../../src/domain/errors.ts';
import { createRequestClient } from '../../src/store/redis-connection.ts';
import {
  createReplicaAcks,
  onePrimary,
  type ReplicaAcks,
} from '../../src/store/redis-replica-acks.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type ReplicaPair, startReplicaPair } from '../support/redis-replica-pair.ts';

const TIMEOUT_MS = 300;

describe('ReplicaAcks on a primary with one replica', () => {
  let pair: ReplicaPair;
  let probe: Redis;
  let acks: ReplicaAcks;
  const counted = { confirmed: 0, not_confirmed: 0 };
  const marker = `${uniquePrefix('replica-acks')}marker`;

  beforeAll(async () => {
    pair = await startReplicaPair({ appendonly: false });
    probe = new Redis(pair.primary.url, { lazyConnect: true });
    await probe.connect();
    acks = createReplicaAcks(
      onePrimary(
        (name) =>
          createRequestClient(
            { topology: { kind: 'single', url: pair.primary.url }, commandTimeoutMs: 2000 },
            name,
          ),
        probe,
      ),
      {
        minReplicas: undefined,
        timeoutMs: TIMEOUT_MS,
        connections: 2,
        markerKey: marker,
        watchEveryMs: 60_000,
        warn: () => undefined,
        counted: (outcome, writes) => {
          counted[outcome] += writes;
        },
      },
    );
    await acks.start();
  });

  afterAll(async () => {
    pair?.replica.resume();
    acks?.close();
    probe?.disconnect();
    await pair?.stop();
  });

  const waitCalls = async () => {
    const stats = await probe.info('commandstats');
    return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };

  it('asks for one replica once it has seen one', () => {
    expect(acks.required).toBe(1);
  });

  it('confirms a write: the replica holds it when confirm() resolves', async () => {
    await probe.set(`${marker}:x`, 'written');
    await acks.confirm();
    expect(await pair.readOnReplica((r) => r.get(`${marker}:x`))).toBe('written');
  });

  it('confirmations asked together share WAITs', async () => {
    const before = await waitCalls();
    const done = counted.confirmed;
    await Promise.all(Array.from({ length: 50 }, () => acks.confirm()));
    expect(counted.confirmed - done).toBe(50);
    // Two connections: at most one WAIT each for the first turn, then one for those queued behind.
    expect((await waitCalls()) - before).toBeLessThanOrEqual(4);
  });

  it('with the replica frozen, every confirmation fails with WriteNotConfirmed within the timeout', async () => {
    pair.replica.pause();
    try {
      const started = Date.now();
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => acks.confirm()));
      expect(outcomes.every((o) => o.status === 'rejected')).toBe(true);
      for (const o of outcomes)
        expect((o as PromiseRejectedResult).reason).toBeInstanceOf(WriteNotConfirmed);
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 1500);
      expect(counted.not_confirmed).toBeGreaterThanOrEqual(10);
    } finally {
      pair.replica.resume();
    }
    await pair.linked();
    await acks.confirm();
  });
});
