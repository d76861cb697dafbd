// `mandate serve --processes N`: a node:cluster primary forks N HTTP processes on one port, restarts a crashed one, drains them all on SIGTERM.
import cluster, { type Worker } from 'node:cluster';
import { createLogger } from './observability/logger.ts';

/** First restart delay after a crash; doubled per crash in a row, up to MAX_BACKOFF_MS. */
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 10_000;
/** A process that ran this long before it died starts a new series of crashes (back to FIRST_BACKOFF_MS). */
const STABLE_AFTER_MS = 30_000;
/** Longest the primary waits for its processes to drain after SIGTERM before it kills them. */
const DRAIN_TIMEOUT_MS = 30_000;

/**
 * Runs `start` in this process when `n` is 1 or this is already one of the forked processes;
 * otherwise becomes the primary: forks `n` processes running the same command line (each calls
 * `start` and listens on the configured port, which node:cluster shares: the primary accepts and
 * hands connections out round-robin, its default on Linux), restarts a process that exits without
 * being asked to after a backoff, and on SIGTERM or SIGINT forwards SIGTERM to every process,
 * waits for them to drain (each closes its server, finishes its requests and its Redis work),
 * and exits. The primary opens no Redis connection and serves nothing itself.
 */
export async function serveProcesses(n: number, start: () => Promise<unknown>): Promise<void> {
  if (n <= 1 || !cluster.isPrimary) {
    await start();
    return;
  }
  const log = createLogger().child({ role: 'primary' });
  let stopping = false;
  let crashesInARow = 0;
  const startedAt = new Map<Worker, number>();

  const fork = (slot: number) => {
    const worker = cluster.fork({ MANDATE_PROCESS_SLOT: String(slot) });
    startedAt.set(worker, Date.now());
    worker.on('exit', (code, signal) => {
      const ranMs = Date.now() - (startedAt.get(worker) ?? Date.now());
      startedAt.delete(worker);
      if (stopping) {
        if (startedAt.size === 0) process.exit(process.exitCode ?? 0);
        return;
      }
      // A configuration error (exit code 2) fails every process alike: stop, do not loop.
      if (code === 2) {
        log.fatal({ slot, code }, 'a broker process refused its configuration: stopping');
        stopping = true;
        for (const other of startedAt.keys()) other.process.kill('SIGTERM');
        process.exitCode = 2;
        if (startedAt.size === 0) process.exit(2);
        return;
      }
      crashesInARow = ranMs >= STABLE_AFTER_MS ? 1 : crashesInARow + 1;
      const delayMs = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (crashesInARow - 1));
      log.error(
        { slot, pid: worker.process.pid, code, signal, restart_in_ms: delayMs },
        'a broker process exited: starting another',
      );
      setTimeout(() => {
        if (!stopping) fork(slot);
      }, delayMs);
    });
    return worker;
  };

  for (let slot = 0; slot < n; slot++) fork(slot);
  log.info({ processes: n, scheduling: 'round-robin' }, 'broker processes started');

  const drain = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, processes: startedAt.size }, 'draining broker processes');
    if (startedAt.size === 0) process.exit(0);
    for (const worker of startedAt.keys()) worker.process.kill('SIGTERM');
    setTimeout(() => {
      for (const worker of startedAt.keys()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, DRAIN_TIMEOUT_MS).unref();
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
}
