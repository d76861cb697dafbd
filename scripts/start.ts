// `npm start`: makes sure Redis is reachable (starting a private one under .data/ if needed), then runs the API and worker.
import { ensureRedis, RedisBootstrapError } from './ensure-redis.ts';

/** Ends the process with the failure's own message and exit code (2 configuration, 1 anything else), never a stack trace. */
function exitWith(error: unknown): never {
  const exitCode = (error as { exitCode?: unknown } | null)?.exitCode;
  const message = error instanceof Error ? error.message : String(error);
  console.error(
    message.startsWith('mandate') || message.startsWith('config error')
      ? message
      : `mandate: ${message}`,
  );
  process.exit(typeof exitCode === 'number' && Number.isInteger(exitCode) ? exitCode : 1);
}

try {
  await ensureRedis();
} catch (error) {
  if (!(error instanceof RedisBootstrapError)) throw error;
  exitWith(error);
}

try {
  const { startMandate } = await import('../src/main.ts');
  await startMandate({ api: true, worker: true });
} catch (error) {
  exitWith(error);
}
