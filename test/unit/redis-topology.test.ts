// The Redis connection forms: redis://, redis+sentinel://, redis+cluster:// and the redis.sentinels / redis.cluster_nodes keys.
import { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.ts';
import { describeTopology, redisTopology } from '../../src/config/redis-topology.ts';
import { createReplicaAcksFor } from '../../src/replica-acks-deps.ts';
import { clusterPrefix, createKeyNames } from '../../src/store/key-names.ts';
import { tempConfig } from '../support/temp-config.ts';

const silent = { warn: () => undefined } as never;

describe('redisTopology', () => {
  it('a plain URL is one server, as given', () => {
    expect(redisTopology({ url: 'redis://:pw@10.0.0.1:6380/2' })).toEqual({
      kind: 'single',
      url: 'redis://:pw@10.0.0.1:6380/2',
    });
  });

  it('redis+sentinel:// names the sentinels, the master name, credentials and db', () => {
    expect(
      redisTopology({ url: 'redis+sentinel://u:p%40ss@s1:26380,s2,[::1]:26381/mymaster?db=3' }),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'mymaster',
      db: 3,
      username: 'u',
      password: 'p@ss',
    });
  });

  it('redis+cluster:// names the seed nodes', () => {
    expect(redisTopology({ url: 'redis+cluster://a:7000,b' })).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 6379 },
      ],
      username: undefined,
      password: undefined,
    });
  });

  it('the config keys replace the URL host and keep its password', () => {
    expect(
      redisTopology({
        url: 'redis://:secret@ignored:6379',
        sentinels: ['s1:26379', 's2:26379'],
        master_name: 'm',
      }),
    ).toMatchObject({ kind: 'sentinel', masterName: 'm', password: 'secret', db: 0 });
    expect(
      redisTopology({ url: 'redis://127.0.0.1:6379', cluster_nodes: ['n1:7000'] }),
    ).toMatchObject({ kind: 'cluster', nodes: [{ host: 'n1', port: 7000 }] });
  });

  it.each([
    [{ url: 'redis+sentinel://s1:26379' }, /master name/],
    [{ url: 'redis+sentinel://s1:26379/m?db=99' }, /db/],
    [{ url: 'redis://x/abc', sentinels: ['s:1'], master_name: 'm' }, /db must be 0..15/],
    [{ url: 'redis+cluster://a:7000/0' }, /no path/],
    [{ url: 'redis+cluster://' }, /no host/],
    [{ url: 'redis+cluster://a:99999' }, /host:port/],
    [{ url: 'http://x' }, /expected redis:\/\//],
    [{ url: 'redis://x', sentinels: ['s:1'] }, /master_name/],
    [{ url: 'redis://x', master_name: 'm' }, /only with redis.sentinels/],
    [
      { url: 'redis://x', sentinels: ['s:1'], master_name: 'm', cluster_nodes: ['c:1'] },
      /not both/,
    ],
    [{ url: 'redis+cluster://a:1', cluster_nodes: ['c:1'] }, /names the servers itself/],
  ])('refuses %j', (cfg, message) => {
    expect(() => redisTopology(cfg)).toThrow(message);
  });

  it('refuses TLS (rediss://) with sentinels or cluster nodes rather than connecting in cleartext', () => {
    expect(() =>
      redisTopology({ url: 'rediss://:pw@x:6380', sentinels: ['s1:26379'], master_name: 'm' }),
    ).toThrow(/not supported yet/);
    expect(() => redisTopology({ url: 'rediss://:pw@x', cluster_nodes: ['n1:7000'] })).toThrow(
      /not supported yet/,
    );
  });

  it('accepts redis.min_replicas_ack on Cluster: confirmations then ask for that many replicas', () => {
    const cfg = tempConfig('redis: { url: "redis+cluster://127.0.0.1:1", min_replicas_ack: 1 }\n');
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    try {
      const { config } = loadConfig({ MANDATE_CONFIG: cfg.path });
      const topology = redisTopology(config.redis);
      const acks = createReplicaAcksFor(
        config,
        topology,
        cluster,
        createKeyNames('t:', { cluster: true }),
        silent,
        { replicaAcks: () => undefined },
      );
      expect(acks.required).toBe(1);
      acks.close();
    } finally {
      cluster.disconnect();
      cfg.remove();
    }
  });

  it('describes where the servers are without the password', () => {
    const t = redisTopology({ url: 'redis+sentinel://u:secret@s1:26379,s2:26379/m' });
    expect(describeTopology(t)).toBe('Sentinel master "m" via s1:26379,s2:26379');
    expect(describeTopology(redisTopology({ url: 'redis://:secret@h:6380' }))).toBe('h:6380');
  });

  it('a bad redis section fails config loading with the field named', () => {
    const cfg = tempConfig('redis: { url: "redis://x", sentinels: ["s1:26379"] }\n');
    try {
      expect(() => loadConfig({ MANDATE_CONFIG: cfg.path })).toThrow(/redis.*master_name/s);
    } finally {
      cfg.remove();
    }
  });
});

describe('key layout on Cluster', () => {
  it('wraps the prefix in a hash tag so the grant world shares one slot', () => {
    expect(clusterPrefix('mandate:')).toBe('{mandate:}');
    expect(clusterPrefix('{tenant-a}:mandate:')).toBe('{tenant-a}:mandate:');
    const keys = createKeyNames('mandate:', { cluster: true });
    expect(keys.grant('g1')).toBe('{mandate:}{g:g1}');
    expect(keys.clientState('c1')).toBe('{mandate:}{c:c1}:state');
    expect(keys.clientGrants('c1', 900)).toBe('{mandate:}grants:of-client:900:c1');
    expect(keys.decisions).toBe('{mandate:}decisions');
    expect(keys.usedActions('c1')).toBe('{mandate:}used:c1');
    expect(keys.queuePrefix).toBe('{mandate:q}');
  });

  it('leaves the keys used alone to their own slots, a multi-key family under one tag', () => {
    const keys = createKeyNames('mandate:', { cluster: true });
    expect(keys.rate('token', 'ip', 1)).toBe('mandate:rate:token:ip:1');
    expect(keys.oneTimeUse('dpop', 'd')).toBe('mandate:once:dpop:d');
    expect([keys.policy, keys.policyVersion]).toEqual([
      '{mandate:policy}',
      '{mandate:policy}:version',
    ]);
    expect([keys.operatorTokens, keys.adminTokens]).toEqual([
      '{mandate:admin}:operators',
      '{mandate:admin}:tokens',
    ]);
    expect(keys.trustedIssuerIds).toBe('mandate:{trusted}:ids');
  });

  it('keeps every configured name on a single server or Sentinel', () => {
    const keys = createKeyNames('mandate:');
    expect(keys.grant('g1')).toBe('mandate:{g:g1}');
    expect([keys.policy, keys.policyVersion]).toEqual(['mandate:policy', 'mandate:policy:version']);
    expect([keys.operatorTokens, keys.adminTokens]).toEqual([
      'mandate:admin:operators',
      'mandate:admin:tokens',
    ]);
    expect(keys.rate('token', 'ip', 1)).toBe('mandate:rate:token:ip:1');
    expect(keys.queuePrefix).toBe('mandate:q');
  });
});
