// `mandate serve --processes 2`: two HTTP processes on one port, coherent on revocation, a crashed one restarted, SIGTERM drains.
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  admin,
  basicAuth,
  type Credentials,
  createClients,
  mintToken,
  task,
} from '../support/broker.ts';
import { postOnFreshConnection } from '../support/post-on-fresh-connection.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { freePort } from '../support/redis-server.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';

/** The pids of `pid`'s child node processes (tsx's esbuild service is a child too: left out). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter(([, command]) => command?.endsWith('/node') === true)
      .map(([p]) => Number(p))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('mandate serve --processes 2', () => {
  let broker: BrokerProcess;
  let agent: Credentials;
  let resource: Credentials;
  const prefix = uniquePrefix('serve-processes');

  beforeAll(async () => {
    const port = await freePort();
    broker = await spawnBrokerProcess({
      redisUrl: inject('redisUrl'),
      prefix,
      cli: ['serve', '--processes', '2'],
      listening: 2,
      env: { MANDATE_ISSUER: `http://127.0.0.1:${port}`, MANDATE_PORT: String(port) },
      timeoutMs: 60_000,
    });
    ({ agent, resource } = await createClients(broker.url));
  }, 90_000);

  afterAll(async () => {
    await broker?.stop();
  });

  /** A form POST on a connection of its own: round-robin hands each new connection to the next process. */
  const freshPost = async (path: string, form: Record<string, string>, who: Credentials) => {
    const res = await postOnFreshConnection(
      `${broker.url}${path}`,
      new URLSearchParams(form).toString(),
      {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(who),
      },
    );
    if (res === 'closed') throw new Error(`${path}: connection closed`);
    return { status: res.status, body: JSON.parse(res.body) as Record<string, unknown> };
  };

  it('runs two processes under one primary, both serving the port', async () => {
    const pids = childrenOf(broker.child.pid as number);
    expect(pids).toHaveLength(2);
    // Each process keeps its own decision chain: mints on fresh connections land in both.
    for (let i = 0; i < 6; i++) {
      const minted = await freshPost(
        '/oauth/token',
        {
          grant_type: 'client_credentials',
          authorization_details: JSON.stringify([task(['read'])]),
        },
        agent,
      );
      expect(minted.status).toBe(200);
    }
    const log = await admin<{ decisions: Array<{ kind: string; chain: string }> }>(
      broker.url,
      'GET',
      `/admin/decisions?client_id=${agent.client_id}&limit=50`,
    );
    const chains = new Set(log.body.decisions.filter((d) => d.kind === 'mint').map((d) => d.chain));
    expect(chains.size).toBe(2);
  });

  it('a revocation made through one process is seen by both on their next request', async () => {
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const before = await freshPost('/oauth/introspect', { token: tr.access_token }, resource);
    expect(before.body.active).toBe(true);
    const res = await admin(broker.url, 'POST', '/admin/revocations', {
      grant_id: tr.grant_id,
      reason: 'test',
    });
    expect(res.status).toBe(200);
    // Six fresh connections: round-robin gives each process three.
    for (let i = 0; i < 6; i++) {
      const after = await freshPost('/oauth/introspect', { token: tr.access_token }, resource);
      expect(after.status).toBe(200);
      expect(after.body.active).toBe(false);
    }
  });

  it('a crashed process is replaced and the port keeps answering', async () => {
    const primary = broker.child.pid as number;
    const [victim, survivor] = childrenOf(primary) as [number, number];
    process.kill(victim, 'SIGKILL');
    await until('the replacement process', () => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(victim) && now.includes(survivor);
    });
    await until('it to listen', () => broker.output().match(/mandate listening on/g)?.length === 3);
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    for (let i = 0; i < 4; i++) {
      const seen = await freshPost('/oauth/introspect', { token: tr.access_token }, resource);
      expect(seen.body.active).toBe(true);
    }
  });

  it('SIGTERM drains: a request in flight is answered, then every process exits', async () => {
    const primary = broker.child.pid as number;
    const children = childrenOf(primary);
    const tr = await mintToken(broker.url, agent, [task(['read'])]);
    const body = new URLSearchParams({ token: tr.access_token }).toString();
    const url = new URL(`${broker.url}/oauth/introspect`);
    // Headers and half the body now, the rest after SIGTERM: the request is in flight when it comes.
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(url, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': String(Buffer.byteLength(body)),
          authorization: basicAuth(resource),
        },
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      setTimeout(() => {
        broker.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const res = await answered;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).active).toBe(true);
    const exit = await new Promise<number | null>((resolve) => {
      if (broker.child.exitCode !== null) resolve(broker.child.exitCode);
      else broker.child.once('exit', (code) => resolve(code));
    });
    expect(exit).toBe(0);
    for (const pid of children) await until(`process ${pid} to exit`, () => !alive(pid), 5000);
  });
});
