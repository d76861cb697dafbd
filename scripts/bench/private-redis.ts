// Starts the one private redis-server every benchmarked server shares (never the system Redis on 6379).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { readCpuSeconds } from './server-process.ts';

export interface PrivateRedis {
  readonly url: string;
  /** CPU seconds redis-server has used so far (its AOF rewrite children not included). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/**
 * Starts redis-server with AOF (everysec, like production) in a temp dir and waits until it answers
 * PING; `extraArgs` are appended (e.g. `['--replicaof', '127.0.0.1', '<port>']` for a replica).
 */
export async function startPrivateRedis(
  binary = '/usr/bin/redis-server',
  extraArgs: readonly string[] = [],
): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'mandate-bench-redis-'));
  const child = spawn(
    binary,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPing(port, child.pid);
  return {
    url: `redis://127.0.0.1:${port}`,
    cpuSeconds: () => readCpuSeconds('redis-server', child.pid ?? -1),
    async stop() {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPing(port: number, pid: number | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server (pid ${pid}) did not answer on port ${port}`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('error', () => resolve(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
  });
}
