// A private, throwaway redis-server child process on a free port, for tests that need a real Redis.
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { findRedisServer } from '../../scripts/find-redis-server.ts';
import { pingRedis } from '../../scripts/ping-redis.ts';

const HOST = '127.0.0.1';
// The machine's own Redis lives here; a test must never start on, connect to or flush it.
const SYSTEM_REDIS_PORT = 6379;
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;
const START_ATTEMPTS = 5;
const OUTPUT_LIMIT = 8_192;

export interface RedisServerOptions {
  /** AOF persistence, so `kill` + `restart` replays what was written. Default true. */
  appendonly?: boolean;
  /** Default 'everysec'. Use 'always' when a test must not lose the last second on a crash. */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** e.g. '64mb'. Unset means no limit. */
  maxmemory?: string;
  /** Default 'noeviction', which Mandate requires. */
  maxmemoryPolicy?: string;
  /** Appended verbatim to the command line, e.g. ['--requirepass', 'x']. */
  extraArgs?: string[];
  /**
   * Runs a sentinel (`redis-server <conf> --sentinel`) watching this primary instead of a data
   * server; the other options then do not apply. Its config file (which Sentinel rewrites) is in `dir`.
   */
  sentinel?: SentinelWatch;
}

export interface SentinelWatch {
  readonly masterName: string;
  readonly primaryPort: number;
  readonly quorum: number;
  /** How long the primary must be silent before it counts as down. */
  readonly downAfterMs: number;
}

/** Servers still running, so a crashing test process does not leave redis-servers behind. */
const live = new Set<RedisServer>();
process.once('exit', () => {
  for (const server of live) server.killNow();
});

/**
 * Resolves with a TCP port that was free on 127.0.0.1 a moment ago (never 6379).
 * Another process can still take it before it is used; `RedisServer.start` retries for that.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.unref();
      probe.once('error', reject);
      probe.listen(0, HOST, () => {
        const address = probe.address();
        const found = typeof address === 'object' && address ? address.port : 0;
        probe.close(() => resolve(found));
      });
    });
    if (port > 0 && port !== SYSTEM_REDIS_PORT) return port;
  }
}

/** A redis-server child bound to 127.0.0.1 on a free port, with its data in a fresh temp dir. */
export class RedisServer {
  readonly port: number;
  /** The temp dir holding its AOF; removed by `stop()`. */
  readonly dir: string;
  private readonly binary: string;
  private readonly args: string[];
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(binary: string, port: number, dir: string, opts: RedisServerOptions) {
    this.binary = binary;
    this.port = port;
    this.dir = dir;
    this.args = buildArgs(port, dir, opts);
  }

  /** Starts a server and resolves once it answers PING. */
  static async start(opts: RedisServerOptions = {}): Promise<RedisServer> {
    const binary = findRedisServer();
    if (!binary) {
      throw new Error(
        'redis-server is not installed; tests need it. Install it with: apt-get install -y redis-server',
      );
    }
    let lastError: unknown;
    for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
      const dir = await mkdtemp(join(tmpdir(), 'mandate-redis-'));
      const server = new RedisServer(binary, await freePort(), dir, opts);
      try {
        await server.launch();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
        // Only a lost race for the port is worth another try.
        if (!server.output.includes('Address already in use')) break;
      }
    }
    throw lastError;
  }

  /** `redis://127.0.0.1:<port>` */
  get url(): string {
    return `redis://${HOST}:${this.port}`;
  }

  /** True while the child process runs. */
  get running(): boolean {
    return this.child !== null;
  }

  /** Sends `signal` (default SIGKILL: a crash) and resolves once the process has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    const timeout = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const);
    if ((await Promise.race([this.exited, timeout])) === 'timeout') {
      child.kill('SIGKILL');
      await this.exited;
    }
  }

  /** Freezes the process (SIGSTOP): it keeps its connections but answers nothing until `resume()`. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Lets a paused process run again (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** Starts the server again on the same port and dir (so its AOF is replayed); resolves once it answers PING. */
  async restart(): Promise<void> {
    if (this.child) await this.kill('SIGKILL');
    await this.launch();
  }

  /** Shuts the server down (SIGTERM) and removes its temp dir. */
  async stop(): Promise<void> {
    await this.kill('SIGTERM');
    live.delete(this);
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort for process exit: no waiting, no leftovers. */
  killNow(): void {
    this.child?.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    live.add(this);
    let hasExited = false;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        hasExited = true;
        if (this.child === child) this.child = null;
        resolve();
      });
      child.once('error', (error) => {
        this.record(String(error));
        hasExited = true;
        if (this.child === child) this.child = null;
        resolve();
      });
    });
    // Always drained: a full pipe would block redis-server.
    child.stdout?.on('data', (chunk: Buffer) => this.record(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.record(chunk.toString()));

    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (hasExited) {
        throw new Error(`redis-server on port ${this.port} exited during start:\n${this.output}`);
      }
      if ((await pingRedis(HOST, this.port, 500)) === '+PONG') return;
      await sleep(25);
    }
    await this.kill('SIGKILL');
    throw new Error(
      `redis-server on port ${this.port} did not answer PING within ${READY_TIMEOUT_MS} ms:\n${this.output}`,
    );
  }

  private record(text: string): void {
    this.output = (this.output + text).slice(-OUTPUT_LIMIT);
  }
}

function buildArgs(port: number, dir: string, opts: RedisServerOptions): string[] {
  const watch = opts.sentinel;
  if (watch) {
    const conf = join(dir, 'sentinel.conf');
    const name = watch.masterName;
    writeFileSync(
      conf,
      [
        `sentinel monitor ${name} ${HOST} ${watch.primaryPort} ${watch.quorum}`,
        `sentinel down-after-milliseconds ${name} ${watch.downAfterMs}`,
        `sentinel failover-timeout ${name} ${Math.max(4 * watch.downAfterMs, 5000)}`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    // biome-ignore format: flag/value pairs read best side by side
    return [conf, '--sentinel', '--port', String(port), '--bind', HOST, '--dir', dir, '--daemonize', 'no'];
  }
  // biome-ignore format: flag/value pairs read best side by side
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--daemonize', 'no',
    '--appendonly', opts.appendonly === false ? 'no' : 'yes',
    '--appendfsync', opts.appendfsync ?? 'everysec',
    '--maxmemory-policy', opts.maxmemoryPolicy ?? 'noeviction',
  ];
  if (opts.maxmemory !== undefined) args.push('--maxmemory', opts.maxmemory);
  args.push(...(opts.extraArgs ?? []));
  return args;
}
