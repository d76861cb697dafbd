// What INFO says about the primary: replicas connected, and whether WAITAOF can be used.
import { describe, expect, it } from 'vitest';
import { primaryFactsOf } from '../../../src/store/redis-replica-acks.ts';

const info = (version: string, aof: string, slaves: number) =>
  `# Server\r\nredis_version:${version}\r\n# Persistence\r\naof_enabled:${aof}\r\n# Replication\r\nrole:master\r\nconnected_slaves:${slaves}\r\n`;

describe('primaryFactsOf', () => {
  it('counts connected replicas', () => {
    expect(primaryFactsOf(info('7.0.15', '1', 2)).replicas).toBe(2);
    expect(primaryFactsOf(info('7.0.15', '1', 0)).replicas).toBe(0);
  });

  it('uses WAITAOF only from Redis 7.2 with the AOF on', () => {
    expect(primaryFactsOf(info('7.0.15', '1', 1)).waitaof).toBe(false);
    expect(primaryFactsOf(info('7.2.4', '0', 1)).waitaof).toBe(false);
    expect(primaryFactsOf(info('7.2.0', '1', 1)).waitaof).toBe(true);
    expect(primaryFactsOf(info('8.0.1', '1', 1)).waitaof).toBe(true);
  });

  it('reads nothing from an INFO without the fields', () => {
    expect(primaryFactsOf('')).toEqual({ replicas: 0, waitaof: false });
  });
});
