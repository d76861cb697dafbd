// The HTTP server's own limits (timeouts, connections, oversized bodies) and how `npm start` / `mandate start` fail.
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ADMIN_TOKEN,
  basicAuth,
  type Credentials,
  createClients,
  deleteKeysUnder,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { freePort } from '../support/redis-server.ts';
import { tempConfig } from '../support/temp-config.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

/** What a raw client saw: every byte it wrote went out, and what it read once done writing. */
interface RawExchange {
  readonly wrote: number;
  readonly error: string | undefined;
  readonly response: string;
}

/**
 * Writes a request with a `bodyBytes` body (Content-Length, no `Expect: 100-continue`) in 64 KiB
 * chunks `pauseMs` apart, as a client on a slow link would, and reads the answer only after.
 */
function postSlowly(
  url: string,
  path: string,
  headers: Record<string, string>,
  bodyBytes: number,
  pauseMs: number,
): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let wrote = 0;
    let error: string | undefined;
    let response = '';
    socket.on('data', (d: Buffer) => {
      response += d.toString();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error = e.code ?? e.message;
    });
    socket.on('close', () => resolve({ wrote, error, response }));
    socket.on('connect', async () => {
      const head = Object.entries({
        ...headers,
        'content-length': String(bodyBytes),
        connection: 'close',
      })
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join('');
      socket.write(`POST ${path} HTTP/1.1\r\nhost: ${hostname}\r\n${head}\r\n`);
      const chunk = Buffer.alloc(65_536, 0x20);
      while (wrote < bodyBytes && !socket.destroyed) {
        const n = Math.min(chunk.length, bodyBytes - wrote);
        if (!socket.write(chunk.subarray(0, n)))
          await new Promise((ok) => socket.once('drain', ok));
        wrote += n;
        await sleep(pauseMs);
      }
      if (!socket.destroyed) socket.end();
    });
  });
}

/** Resolves with when (ms from now) the server closed a connection that sends `prefix` and then nothing. */
function closedAfter(
  url: string,
  prefix: string,
  giveUpMs: number,
): Promise<{ ms: number; response: string } | 'still open'> {
  const { hostname, port } = new URL(url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket: Socket = connect(Number(port), hostname, () => socket.write(prefix));
    let response = '';
    socket.on('data', (d: Buffer) => {
      response += d.toString();
    });
    socket.on('error', () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('still open');
    }, giveUpMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ ms: Date.now() - started, response });
    });
  });
}

describe('HTTP server limits', () => {
  let broker: TestBroker;
  let resource: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker({
      config:
        'server:\n  headers_timeout_ms: 1500\n  request_timeout_ms: 20000\n  max_connections: 4\n',
    });
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('max_connections: a connection beyond the limit is closed at once, and the server serves again once they go', async () => {
    const { hostname, port } = new URL(broker.url);
    const open: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = connect(Number(port), hostname);
      s.on('error', () => undefined);
      await new Promise((ok) => s.once('connect', ok));
      open.push(s);
    }
    // Let the server accept all four before the fifth comes.
    await sleep(100);
    const fifth = await closedAfter(broker.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n', 1000);
    expect(fifth).not.toBe('still open');
    expect(fifth === 'still open' ? '' : fifth.response).toBe('');
    for (const s of open) s.destroy();
    await sleep(100);
    expect(
      (await fetch(`${broker.url}/healthz`, { headers: { connection: 'close' } })).status,
    ).toBe(200);
  });

  it('headers_timeout_ms: a client that never finishes its headers is cut off (408) after the timeout', async () => {
    const res = await closedAfter(broker.url, 'GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ', 8000);
    expect(res).not.toBe('still open');
    if (res === 'still open') return;
    expect(res.ms).toBeGreaterThanOrEqual(1400);
    expect(res.ms).toBeLessThan(5000);
    expect(res.response).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a 2 MB body sent without Expect: 100-continue gets its 413 read back, never a reset mid-upload', async () => {
    ({ resource } = await createClients(broker.url));
    const cases = [
      {
        path: '/admin/clients',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        status: 413,
      },
      {
        path: '/access/v1/evaluation',
        headers: { authorization: basicAuth(resource), 'content-type': 'application/json' },
        status: 413,
      },
      {
        path: '/oauth/token',
        headers: {
          authorization: basicAuth(resource),
          'content-type': 'application/x-www-form-urlencoded',
        },
        status: 400,
      },
    ];
    for (const c of cases) {
      // 32 chunks 25 ms apart: longer than any fixed "drain for a moment, then hang up" would wait.
      const ex = await postSlowly(broker.url, c.path, c.headers, 2 * 1024 * 1024, 25);
      expect(ex.error, c.path).toBeUndefined();
      expect(ex.wrote, c.path).toBe(2 * 1024 * 1024);
      expect(ex.response.split('\r\n')[0], c.path).toBe(
        `HTTP/1.1 ${c.status} ${c.status === 413 ? 'Payload Too Large' : 'Bad Request'}`,
      );
    }
  });
});

/** Runs a command to its end; resolves with its exit code and output. */
function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      cwd: process.cwd(),
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** stderr without npm's own banner lines, which `npm start` prints before the script runs. */
const ownLines = (stderr: string) =>
  stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l && !l.startsWith('> ') && !l.startsWith('npm '));

describe('start failures: one clear line, no stack trace', () => {
  const starts = [
    { name: 'npm start', cmd: 'npm', args: ['start', '--silent'] },
    {
      name: 'mandate start',
      cmd: 'node_modules/.bin/node',
      args: ['--import', 'tsx', 'src/cli.ts', 'start'],
    },
  ];
  const prefix = uniquePrefix('start-failures');
  let badConfig: ReturnType<typeof tempConfig>;
  let goodConfig: ReturnType<typeof tempConfig>;

  beforeAll(() => {
    badConfig = tempConfig('server:\n  port: "eighty"\n  json_max_depth: 0\n');
    goodConfig = tempConfig('{}\n');
  });
  afterAll(async () => {
    badConfig?.remove();
    goodConfig?.remove();
    await deleteKeysUnder(inject('redisUrl'), prefix);
  });

  for (const s of starts) {
    it(`${s.name} with a bad config file: exit 2, the file and each field named`, async () => {
      const r = await run(s.cmd, s.args, {
        REDIS_URL: inject('redisUrl'),
        MANDATE_REDIS_PREFIX: prefix,
        MANDATE_CONFIG: badConfig.path,
        MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
      });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).not.toMatch(/^ {4}at /m);
      expect(r.stderr).toContain(badConfig.path);
      expect(r.stderr).toMatch(/server\.port/);
      expect(r.stderr).toMatch(/server\.json_max_depth/);
    });

    it(`${s.name} with the port taken: exit 1, one line`, async () => {
      const blocker = createServer();
      const port = await freePort();
      await new Promise<void>((ok) => blocker.listen(port, '127.0.0.1', ok));
      try {
        const r = await run(s.cmd, s.args, {
          REDIS_URL: inject('redisUrl'),
          MANDATE_REDIS_PREFIX: prefix,
          MANDATE_CONFIG: goodConfig.path,
          MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
          MANDATE_PORT: String(port),
          MANDATE_HOST: '127.0.0.1',
          MANDATE_LOG_LEVEL: 'silent',
        });
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).not.toMatch(/^ {4}at /m);
        expect(ownLines(r.stderr)).toEqual([
          `mandate: cannot listen on 127.0.0.1:${port}: the port is in use`,
        ]);
      } finally {
        blocker.close();
      }
    });

    it(`${s.name} with Redis unreachable: exit 1, one line`, async () => {
      // A free port with nothing listening: never the machine's own Redis.
      const nothing = await freePort();
      const r = await run(s.cmd, s.args, {
        REDIS_URL: `redis://127.0.0.1:${nothing}`,
        MANDATE_CONFIG: goodConfig.path,
        MANDATE_ADMIN_TOKEN: ADMIN_TOKEN,
        MANDATE_PORT: String(await freePort()),
        MANDATE_LOG_LEVEL: 'silent',
      });
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toMatch(/^ {4}at /m);
      const lines = ownLines(r.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        new RegExp(`^mandate: cannot start: Redis at 127\\.0\\.0\\.1:${nothing} is not reachable`),
      );
    });
  }
});
