// `npm start`: makes sure Redis is reachable (starting a private one under .data/ if needed), then runs the API and worker.
import { ensureRedis, RedisBootstrapError } from './ensure-redis.ts';

try {
  await ensureRedis();
} catch (error) {
  if (!(error instanceof RedisBootstrapError)) throw error;
  console.error(error.message);
  process.exit(error.exitCode);
}

const { startMandate } = await import('../src/main.ts');
await startMandate({ api: true, worker: true });
