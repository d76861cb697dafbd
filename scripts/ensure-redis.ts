// `npm start` bootstrap: finds a Redis to use, or starts a private AOF-backed redis-server under .data/.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { findRedisServer } from './find-redis-server.ts';
import { pingRedis } from './ping-redis.ts';

const HOST = '127.0.0.1';
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
// A large AOF can take a while to replay; Redis answers -LOADING until it is done.
const READY_TIMEOUT_MS = 60_000;
// How long a signal handler elsewhere (Mandate's graceful shutdown) may keep using Redis.
const SHUTDOWN_GRACE_MS = 15_000;

export const NOT_INSTALLED_MESSAGE =
  'redis-server is not installed. Install it with: sudo apt-get install -y redis-server (or set REDIS_URL)';

/** A bootstrap failure with the message to print and the exit code to end with. */
export class RedisBootstrapError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'RedisBootstrapError';
    this.exitCode = exitCode;
  }
}

export interface EnsureRedisOptions {
  /** Port to check and, if free, to start on. Default 6379. */
  port?: number;
  /** Where the private server keeps its AOF and log. Default `<repo>/.data`. */
  dataDir?: string;
}

export interface EnsuredRedis {
  url: string;
  /** The private redis-server this process started, or null when an existing Redis is used. */
  child: ChildProcess | null;
}

/**
 * Makes sure a Redis is reachable for Mandate. With `REDIS_URL` set it changes nothing. Otherwise
 * it uses whatever answers PING on 127.0.0.1:6379, or starts a private `redis-server` there with AOF
 * on and data under `.data/` (installing Debian's package first when missing and running as root),
 * stopped again when this process exits. Throws `RedisBootstrapError` when none of that is possible.
 */
export async function ensureRedis(options: EnsureRedisOptions = {}): Promise<EnsuredRedis> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, child: null };

  const port = options.port ?? 6379;
  const url = `redis://${HOST}:${port}`;
  if ((await pingRedis(HOST, port)) !== null) {
    process.env.REDIS_URL = url;
    console.error(`mandate: using the Redis already answering at ${url}`);
    return { url, child: null };
  }

  let binary = findRedisServer();
  if (!binary) {
    if (process.getuid?.() !== 0) throw new RedisBootstrapError(NOT_INSTALLED_MESSAGE);
    await installRedisServer();
    // Debian's package may start its own service on 6379 right away; that one is then used as is.
    if ((await pingRedis(HOST, port)) !== null) {
      process.env.REDIS_URL = url;
      console.error(`mandate: using the freshly installed Redis service at ${url}`);
      return { url, child: null };
    }
    binary = findRedisServer();
    if (!binary) throw new RedisBootstrapError(NOT_INSTALLED_MESSAGE);
  }

  const dataDir = options.dataDir ?? join(REPO_ROOT, '.data');
  const child = await startPrivateRedis(binary, port, dataDir);
  process.env.REDIS_URL = url;
  console.error(`mandate: started a private redis-server at ${url} (data and log in ${dataDir})`);
  return { url, child };
}

/** Runs `apt-get update && apt-get install -y redis-server`, streaming its output to stderr. */
async function installRedisServer(): Promise<void> {
  console.error('mandate: redis-server is missing; installing it with apt-get (running as root)');
  const code = await new Promise<number | null>((resolve) => {
    const apt = spawn('sh', ['-c', 'apt-get update && apt-get install -y redis-server'], {
      stdio: ['ignore', process.stderr, process.stderr],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    apt.once('error', () => resolve(null));
    apt.once('exit', (exitCode) => resolve(exitCode));
  });
  if (code !== 0) {
    throw new RedisBootstrapError(`apt-get install redis-server failed. ${NOT_INSTALLED_MESSAGE}`);
  }
}

async function startPrivateRedis(
  binary: string,
  port: number,
  dataDir: string,
): Promise<ChildProcess> {
  mkdirSync(dataDir, { recursive: true });
  const logFile = join(dataDir, 'redis-server.log');
  // biome-ignore format: flag/value pairs read best side by side
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dataDir,
    '--appendonly', 'yes',
    '--appendfsync', 'everysec',
    '--maxmemory-policy', 'noeviction',
    '--save', '',
    '--daemonize', 'no',
    '--logfile', logFile,
  ];
  // Early errors (bad flag, port taken) go to stdout/stderr before the log file is open: keep them too.
  const logFd = openSync(logFile, 'a');
  // Own process group, so a terminal Ctrl-C reaches Mandate first and Redis outlives its graceful shutdown.
  const child = spawn(binary, args, {
    cwd: dataDir,
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  closeSync(logFd);
  // Never keeps this process alive by itself; the exit hook below stops it.
  child.unref();

  let exited = false;
  let stopping = false;
  const exitedPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (exited) {
      throw new RedisBootstrapError(
        `redis-server could not start on ${HOST}:${port} (see ${logFile}):\n${tail(logFile)}\n` +
          'Set REDIS_URL to use another Redis.',
        1,
      );
    }
    if ((await pingRedis(HOST, port, 500)) === '+PONG') break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new RedisBootstrapError(
        `redis-server on ${HOST}:${port} did not become ready within ${READY_TIMEOUT_MS} ms (see ${logFile})`,
        1,
      );
    }
    await sleep(50);
  }

  const stop = (): void => {
    if (stopping || exited) return;
    stopping = true;
    // SIGTERM lets Redis flush its AOF before it exits.
    child.kill('SIGTERM');
  };
  process.once('exit', stop);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) {
        // Someone else shuts down gracefully and still needs Redis; the exit hook stops it afterwards.
        setTimeout(stop, SHUTDOWN_GRACE_MS).unref();
        return;
      }
      stop();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  void exitedPromise.then(() => {
    if (stopping) return;
    console.error(`mandate: the private redis-server exited unexpectedly (see ${logFile})`);
    process.exit(1);
  });
  return child;
}

function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
