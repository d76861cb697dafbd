// The demos' broker: MANDATE_URL + MANDATE_ADMIN_TOKEN when given, else a private redis-server and a broker in-process.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './bench/free-port.ts';
import { findRedisServer } from './find-redis-server.ts';
import { pingRedis } from './ping-redis.ts';

export interface Broker {
  readonly url: string;
  readonly issuer: string;
  readonly adminToken: string;
  close(): Promise<void>;
}

export const say = (line: string) => process.stdout.write(`${line}\n`);

/** A throwaway redis-server on a free port (never the machine's 6379), data in a temp dir. */
async function startPrivateRedis(): Promise<{ url: string; stop(): Promise<void> }> {
  const bin = findRedisServer();
  if (!bin)
    throw new Error(
      'redis-server is not installed (apt-get install redis-server), or set MANDATE_URL and MANDATE_ADMIN_TOKEN',
    );
  const dir = mkdtempSync(join(tmpdir(), 'mandate-demo-'));
  let port = await freePort();
  while (port === 6379) port = await freePort();
  // biome-ignore format: flag/value pairs read best side by side
  const child: ChildProcess = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    if ((await pingRedis('127.0.0.1', port, 200)) === '+PONG')
      return { url: `redis://127.0.0.1:${port}`, stop };
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  await stop();
  throw new Error('the private redis-server did not start');
}

/** A private redis-server and a broker in this process (API and worker); `extraEnv` adds to its environment. */
export async function startOwnBroker(extraEnv: Record<string, string> = {}): Promise<Broker> {
  // The broker's JSON logs would drown the story; warnings still show.
  process.env.MANDATE_LOG_LEVEL ??= 'warn';
  const redis = await startPrivateRedis();
  const { startMandate } = await import('../src/main.ts');
  const adminToken = randomBytes(24).toString('base64url');
  // The issuer must be the URL the broker listens on, whatever the caller's shell says.
  const { MANDATE_ISSUER: _issuer, MANDATE_URL: _url, ...env } = process.env;
  try {
    const mandate = await startMandate({
      api: true,
      worker: true,
      handleSignals: false,
      env: {
        ...env,
        REDIS_URL: redis.url,
        MANDATE_HOST: '127.0.0.1',
        MANDATE_PORT: String(await freePort()),
        MANDATE_ADMIN_TOKEN: adminToken,
        MANDATE_REDIS_PREFIX: `demo:${randomBytes(4).toString('hex')}:`,
        ...extraEnv,
      },
    });
    const url = mandate.url as string;
    return {
      url,
      issuer: mandate.deps.loaded.issuer,
      adminToken,
      async close() {
        await mandate.close();
        await redis.stop();
      },
    };
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

export function connectToBroker(): Broker | undefined {
  const url = process.env.MANDATE_URL?.replace(/\/+$/, '');
  const adminToken = process.env.MANDATE_ADMIN_TOKEN;
  if (!url) return undefined;
  if (!adminToken) throw new Error('MANDATE_URL is set but MANDATE_ADMIN_TOKEN is not');
  return { url, issuer: process.env.MANDATE_ISSUER || url, adminToken, close: async () => {} };
}

export async function adminCall<T>(
  broker: Broker,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${broker.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${broker.adminToken}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as T };
}

export async function register(
  broker: Broker,
  input: Record<string, unknown>,
): Promise<{ id: string; secret: string }> {
  const res = await adminCall<{ client: { client_id: string }; client_secret: string }>(
    broker,
    'POST',
    '/admin/clients',
    input,
  );
  if (res.status !== 201)
    throw new Error(`registering ${String(input.name)} failed: ${res.status}`);
  return { id: res.body.client.client_id, secret: res.body.client_secret };
}

export { freePort };

/**
 * Runs a demo: against MANDATE_URL when set, else a broker of its own (with `extraEnv`); prints
 * whether the story went as expected and exits 0 or 1.
 */
export function runDemo(
  title: string,
  tellStory: (broker: Broker) => Promise<boolean>,
  extraEnv: Record<string, string> = {},
  cleanup: () => void = () => {},
): void {
  const main = async (): Promise<number> => {
    const external = connectToBroker();
    const broker = external ?? (await startOwnBroker(extraEnv));
    say(`${title} against ${broker.url}${external ? '' : ' (started for this demo)'}`);
    try {
      const ok = await tellStory(broker);
      say(ok ? 'demo: the story went as expected' : 'demo: something did not go as expected');
      return ok ? 0 : 1;
    } finally {
      await broker.close();
      cleanup();
    }
  };
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
