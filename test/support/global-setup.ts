// Vitest global setup: one private redis-server shared by every test file, given to tests as inject('redisUrl').
import type { TestProject } from 'vitest/node';
import { RedisServer } from './redis-server.ts';

/** Starts the shared Redis before any test file runs; the returned function stops it after the last. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await RedisServer.start();
  project.provide('redisUrl', server.url);
  // Safety net: code under test that falls back to REDIS_URL reaches this server, never the machine's 6379.
  process.env.REDIS_URL = server.url;
  return async () => {
    await server.stop();
  };
}
