// Spawns `mandate serve` as its own process (API only) for tests that need several processes.
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { ADMIN_TOKEN } from './broker.ts';
import { freePort } from './redis-server.ts';
import { tempConfig } from './temp-config.ts';

export interface BrokerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. */
  stop(): Promise<void>;
}

/**
 * Spawns `mandate serve` as its own Node 22 process (API only) and resolves once it prints
 * `mandate listening on <url>`.
 */
export async function spawnBrokerProcess(opts: {
  redisUrl: string;
  prefix: string;
  config?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run `src/cli.ts` with these arguments instead (e.g. `['serve', '--processes', '2']`). */
  cli?: string[];
  /** Resolve once this many processes print that they listen (default 1). */
  listening?: number;
}): Promise<BrokerProcess> {
  const cfg = tempConfig(opts.config ?? '{}\n');
  const port = await freePort();
  const child = spawn(
    'node_modules/.bin/node',
    opts.cli
      ? ['--import', 'tsx', 'src/cli.ts', ...opts.cli]
      : [
          '--import',
          'tsx',
          '-e',
          "import('./src/main.ts').then((m) => m.startMandate({ api: true, worker: false }))",
        ],
    {
      cwd: process.cwd(),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        REDIS_URL: opts.redisUrl,
        MANDATE_PORT: String(port),
        MANDATE_HOST: '127.0.0.1',
        MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
        MANDATE_WORKER_METRICS_PORT: '0',
        MANDATE_REDIS_PREFIX: opts.prefix,
        MANDATE_CONFIG: cfg.path,
        ...opts.env,
      },
    },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    cfg.remove();
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 20_000);
  for (;;) {
    const m = [...out.matchAll(/mandate listening on (\S+)/g)];
    const url = m[0]?.[1];
    if (url && m.length >= (opts.listening ?? 1)) return { url, child, output: () => out, stop };
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`broker process did not start:\n${out.slice(-4000)}`);
    }
    await sleep(50);
  }
}
