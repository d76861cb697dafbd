// Soak: a private Redis, one API and one worker process, and a bounded mixed load for SOAK_SECONDS with invariants checked throughout.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './bench/free-port.ts';
import { startPrivateRedis } from './bench/private-redis.ts';
import { startServerProcess } from './bench/server-process.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const LOOPS = Number(process.env.SOAK_LOOPS ?? 4);
/** Live grants one loop keeps before it revokes its oldest: the load stays bounded. */
const MAX_GRANTS_PER_LOOP = 50;
const CRM = 'https://crm.example.com';
const PREFIX = 'soak:';
/** Extra Node/V8 flags for the broker processes (e.g. `--no-maglev`), to compare runtime settings. */
const NODE_FLAGS = (process.env.SOAK_NODE_FLAGS ?? '').split(' ').filter(Boolean);
/** A call slower than this is an error, not a hang. */
const CALL_TIMEOUT_MS = 10_000;
const ADMIN = `soak-admin-${randomBytes(16).toString('hex')}`;

type Op =
  | 'mint'
  | 'refresh'
  | 'introspect'
  | 'evaluate'
  | 'revoke'
  | 'signal'
  | 'check_revoked'
  | 'check_grant';
interface Creds {
  client_id: string;
  client_secret: string;
}
interface Held {
  grantId: string;
  access: string;
  refresh: string;
  exp: number;
}

const latencies = new Map<Op, number[]>();
const counts = new Map<Op, number>();
const errors = new Map<string, number>();
const violations: string[] = [];
const issuedGrants = new Set<string>();

function violate(what: string): void {
  if (violations.length < 50) violations.push(what);
  process.stderr.write(`INVARIANT VIOLATED: ${what}\n`);
}
function error(what: string): void {
  errors.set(what, (errors.get(what) ?? 0) + 1);
}

async function timed<T>(op: Op, call: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await call();
  } finally {
    const ms = performance.now() - t0;
    let list = latencies.get(op);
    if (!list) {
      list = [];
      latencies.set(op, list);
    }
    // Bounded memory: a reservoir of at most 50k samples per op.
    if (list.length < 50_000) list.push(ms);
    else list[Math.floor(Math.random() * list.length)] = ms;
    counts.set(op, (counts.get(op) ?? 0) + 1);
  }
}

const basic = (c: Creds) =>
  `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
const jwtPart = (t: string, i: number) =>
  JSON.parse(Buffer.from(t.split('.')[i] as string, 'base64url').toString()) as Record<
    string,
    unknown
  >;

async function main(): Promise<number> {
  const redisServer = await startPrivateRedis();
  const dir = mkdtempSync(join(tmpdir(), 'mandate-soak-'));
  const configPath = join(dir, 'mandate.yaml');
  writeFileSync(
    configPath,
    'worker:\n  sweep_every_ms: 5000\nrate_limit:\n  auth_failures_per_minute: 1000\n  invalid_tokens_per_minute: 1000000\nlimits:\n  max_live_grants_per_agent: 1000000\n',
  );
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const env = {
    REDIS_URL: redisServer.url,
    MANDATE_HOST: '127.0.0.1',
    MANDATE_PORT: String(port),
    MANDATE_ADMIN_TOKEN: ADMIN,
    MANDATE_REDIS_PREFIX: PREFIX,
    MANDATE_CONFIG: configPath,
    MANDATE_LOG_LEVEL: 'warn',
    // One API process: the soak watches its memory.
    MANDATE_PROCESSES: '1',
  };
  let worker: ChildProcess | undefined;
  let api: Awaited<ReturnType<typeof startServerProcess>> | undefined;
  const redis = new Redis(redisServer.url, { lazyConnect: true });
  try {
    api = await startServerProcess({
      name: 'soak-api',
      args: [...NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', 'serve'],
      env,
      readyUrl: `${base}/readyz`,
      logFile: join(dir, 'api.log'),
    });
    worker = await startWorker(env, join(dir, 'worker.log'));
    await redis.connect();

    const adminCall = async (
      method: string,
      path: string,
      body?: unknown,
      timeoutMs = CALL_TIMEOUT_MS,
    ) => {
      const res = await fetch(`${base}${path}`, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        headers: {
          authorization: `Bearer ${ADMIN}`,
          ...(body ? { 'content-type': 'application/json' } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const register = async (input: Record<string, unknown>): Promise<Creds> => {
      const res = await adminCall('POST', '/admin/clients', input);
      if (res.status !== 201)
        throw new Error(`client registration failed: ${res.status} ${JSON.stringify(res.body)}`);
      return {
        client_id: (res.body.client as { client_id: string }).client_id,
        client_secret: res.body.client_secret as string,
      };
    };
    const resource = await register({ name: 'soak resource', kind: 'resource', resources: [CRM] });
    const agents = await Promise.all(
      Array.from({ length: LOOPS }, (_, i) =>
        register({ name: `soak agent ${i}`, kind: 'agent', groups: ['writers'] }),
      ),
    );
    const memBefore = usedMemory(await redis.info('memory'));

    const form = async (path: string, params: Record<string, string>, creds: Creds) => {
      const res = await fetch(`${base}${path}`, {
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(creds),
        },
        body: new URLSearchParams(params).toString(),
      });
      const text = await res.text();
      return {
        status: res.status,
        body: (text ? JSON.parse(text) : {}) as Record<string, unknown>,
      };
    };
    const evaluate = async (agent: Creds, token: string) => {
      const res = await fetch(`${base}/access/v1/evaluation`, {
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basic(resource) },
        body: JSON.stringify({
          subject: { type: 'agent', id: agent.client_id, properties: { token } },
          action: { name: 'read' },
          resource: { type: 'resource', id: CRM },
          context: { ip: '127.0.0.1' },
        }),
      });
      return { status: res.status, body: (await res.json()) as { decision?: boolean } };
    };
    const checkGrant = async (grantId: string) => {
      const res = await timed('check_grant', () => adminCall('GET', `/admin/grants/${grantId}`));
      const history = (res.body.history ?? []) as Array<{ kind: string }>;
      if (res.status !== 200) violate(`issued grant ${grantId} does not exist (${res.status})`);
      else if (!history.some((r) => r.kind === 'mint'))
        violate(`grant ${grantId} has no mint decision record`);
    };

    const deadline = Date.now() + SECONDS * 1000;
    const loop = async (agent: Creds) => {
      const held: Held[] = [];
      const revoked: string[] = [];
      const nowSec = () => Math.floor(Date.now() / 1000);
      while (Date.now() < deadline && violations.length === 0) {
        const roll = Math.random();
        const pick = held[Math.floor(Math.random() * held.length)];
        if (held.length === 0 || roll < 0.15) {
          const res = await timed('mint', () =>
            form(
              '/oauth/token',
              {
                grant_type: 'client_credentials',
                authorization_details: JSON.stringify([
                  {
                    type: 'agent_task',
                    task_id: `T-${randomBytes(4).toString('hex')}`,
                    purpose: 'soak',
                    actions: ['read'],
                    locations: [CRM],
                    ttl: 3600,
                  },
                ]),
              },
              agent,
            ),
          );
          if (res.status !== 200) {
            error(`mint ${res.status} ${String(res.body.error)}`);
            continue;
          }
          const access = res.body.access_token as string;
          const h: Held = {
            grantId: res.body.grant_id as string,
            access,
            refresh: res.body.refresh_token as string,
            exp: jwtPart(access, 1).exp as number,
          };
          held.push(h);
          issuedGrants.add(h.grantId);
          if (held.length > MAX_GRANTS_PER_LOOP) await revoke(held.shift() as Held);
        } else if (roll < 0.3 && pick) {
          const res = await timed('refresh', () =>
            form(
              '/oauth/token',
              { grant_type: 'refresh_token', refresh_token: pick.refresh },
              agent,
            ),
          );
          if (res.status !== 200) error(`refresh ${res.status} ${String(res.body.error)}`);
          else {
            pick.access = res.body.access_token as string;
            pick.refresh = res.body.refresh_token as string;
            pick.exp = jwtPart(pick.access, 1).exp as number;
          }
        } else if (roll < 0.6 && pick) {
          const res = await timed('introspect', () =>
            form('/oauth/introspect', { token: pick.access }, resource),
          );
          if (res.status !== 200) error(`introspect ${res.status}`);
          else if (res.body.active !== true && pick.exp > nowSec() + 1)
            error('introspect: live token read inactive');
        } else if (roll < 0.8 && pick) {
          const res = await timed('evaluate', () => evaluate(agent, pick.access));
          if (res.status !== 200) error(`evaluate ${res.status}`);
          else if (res.body.decision !== true && pick.exp > nowSec() + 1)
            error('evaluate: live token denied');
        } else if (roll < 0.85 && pick) {
          held.splice(held.indexOf(pick), 1);
          await revoke(pick);
        } else if (roll < 0.9 && pick) {
          const res = await timed('signal', async () => {
            const r = await fetch(`${base}/v1/signals`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: basic(resource) },
              body: JSON.stringify({ grant_id: pick.grantId, type: 'soak_heartbeat', risk: 5 }),
            });
            await r.arrayBuffer();
            return r.status;
          });
          if (res !== 202) error(`signal ${res}`);
        } else if (roll < 0.97 && revoked.length) {
          const token = revoked[Math.floor(Math.random() * revoked.length)] as string;
          const res = await timed('check_revoked', () =>
            form('/oauth/introspect', { token }, resource),
          );
          if (res.body.active === true) violate('a revoked token read active');
          const ev = await evaluate(agent, token);
          if (ev.body.decision === true) violate('a revoked token was permitted');
        } else if (pick) {
          await checkGrant(pick.grantId);
        }
      }

      async function revoke(h: Held): Promise<void> {
        const res = await timed('revoke', () =>
          form('/oauth/revoke', { token: h.refresh, token_type_hint: 'refresh_token' }, agent),
        );
        if (res.status !== 200) {
          error(`revoke ${res.status}`);
          return;
        }
        // Once revocation returns, the token must read inactive at once.
        const after = await timed('check_revoked', () =>
          form('/oauth/introspect', { token: h.access }, resource),
        );
        if (after.body.active === true)
          violate(`grant ${h.grantId}: token active right after its revocation returned`);
        revoked.push(h.access);
        if (revoked.length > 500) revoked.shift();
      }
    };

    const started = performance.now();
    const progress = setInterval(() => {
      const n = [...counts.values()].reduce((a, b) => a + b, 0);
      process.stderr.write(
        `soak: ${Math.round((performance.now() - started) / 1000)} s, ${n} calls, ${issuedGrants.size} grants, ${[...errors.values()].reduce((a, b) => a + b, 0)} errors\n`,
      );
    }, 30_000);
    await Promise.all(
      agents.map((a) =>
        loop(a).catch((err: unknown) => {
          error(`loop: ${String(err)}`.slice(0, 120));
        }),
      ),
    );
    clearInterval(progress);
    const elapsedSec = (performance.now() - started) / 1000;
    const loadCounts = new Map(counts);

    // End checks: every issued grant (up to a sample of 2000) exists with its mint record; the audit chain verifies.
    if (!api.alive()) {
      process.stderr.write(
        `the API process died during the load; its log ends:\n${api.logTail(40)}\n`,
      );
      violate(`the API process died after ${elapsedSec.toFixed(0)} s of load`);
      return 1;
    }
    process.stderr.write(`soak: load done; checking grants and the audit chain\n`);
    const all = [...issuedGrants];
    const sample = all.length <= 2000 ? all : all.sort(() => Math.random() - 0.5).slice(0, 2000);
    for (const id of sample) await checkGrant(id);
    process.stderr.write(`soak: verifying the audit chain\n`);
    // Walking the whole chain takes time proportional to the log: give it minutes, not seconds.
    const verify = await adminCall('GET', '/admin/audit/verify', undefined, 300_000);
    if (verify.status !== 200 || verify.body.ok !== true)
      violate(`audit verify: ${JSON.stringify(verify.body)}`);
    if (!api.alive()) violate('the API process died');
    if (worker.exitCode !== null) violate('the worker process died');

    const liveGrants = await redis.zcard(`${PREFIX}grants:live`);
    const memAfter = usedMemory(await redis.info('memory'));
    const rssMb = rssOf(api.pid);
    const total = [...loadCounts.values()].reduce((a, b) => a + b, 0);
    const lines = [
      `soak: ${elapsedSec.toFixed(1)} s, ${LOOPS} loops, ${total} calls, ${(total / elapsedSec).toFixed(0)} calls/s`,
      ...[...loadCounts.entries()].map(
        ([op, n]) =>
          `  ${op.padEnd(14)} ${String(n).padStart(8)} calls  ${(n / elapsedSec).toFixed(1).padStart(8)}/s  p50 ${pct(latencies.get(op), 50)} ms  p99 ${pct(latencies.get(op), 99)} ms`,
      ),
      `errors: ${errors.size ? [...errors.entries()].map(([k, v]) => `${k} x${v}`).join(', ') : 'none'}`,
      `grants issued ${issuedGrants.size}, live ${liveGrants}, checked ${sample.length}; audit verify ${JSON.stringify(verify.body)}`,
      `broker RSS ${rssMb === undefined ? 'n/a' : `${rssMb.toFixed(1)} MB`}`,
      `redis used_memory ${memBefore} -> ${memAfter} bytes; ${liveGrants ? `${Math.round((memAfter - memBefore) / liveGrants)} bytes per live grant (decision log included)` : 'no live grant'}; ${issuedGrants.size ? Math.round((memAfter - memBefore) / issuedGrants.size) : 0} bytes per issued grant`,
      `invariants: ${violations.length ? `VIOLATED (${violations.length})` : 'all held'}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const v of violations) process.stdout.write(`  violation: ${v}\n`);
    return violations.length ? 1 : 0;
  } catch (err) {
    if (api && !api.alive())
      process.stderr.write(`the API process died; its log ends:\n${api.logTail(40)}\n`);
    throw err;
  } finally {
    redis.disconnect();
    if (worker && worker.exitCode === null) {
      worker.kill('SIGTERM');
      await new Promise((ok) => worker?.once('exit', ok));
    }
    await api?.stop();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `mandate worker` as its own process; resolves once it says it runs. */
async function startWorker(env: Record<string, string>, logFile: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [...NODE_FLAGS, '--import', 'tsx', 'src/cli.ts', 'worker'],
    {
      env: { ...process.env, ...env, MANDATE_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout?.on('data', (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  });
  child.stderr?.on('data', (c: Buffer) => {
    out = (out + c.toString()).slice(-20_000);
  });
  const deadline = Date.now() + 30_000;
  while (!out.includes('re-evaluation worker running')) {
    if (child.exitCode !== null || Date.now() > deadline) {
      writeFileSync(logFile, out);
      child.kill('SIGKILL');
      throw new Error(`worker did not start:\n${out.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0);
}

function rssOf(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb ? Number(kb) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function pct(samples: number[] | undefined, p: number): string {
  if (!samples?.length) return '-';
  const sorted = [...samples].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number
  ).toFixed(2);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`soak failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
