// Signal -> revoked latency, and revocation on one broker -> inactive on another, over real HTTP.
// Usage: node --import tsx scripts/bench/signal-latency.ts [signals=1000]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMandate } from '../../src/main.ts';
import { freePort } from './free-port.ts';
import { startPrivateRedis } from './private-redis.ts';

const N = Number(process.argv[2] ?? 1000);
const ADMIN = 'bench-admin-token-0123456789';
const CRM = 'https://crm.example.com';
const redis = await startPrivateRedis();
const config = join(tmpdir(), `mandate-signal-${process.pid}.yaml`);
writeFileSync(config, 'tokens: { access_ttl: 900 }\n');
const env = { REDIS_URL: redis.url, MANDATE_HOST: '127.0.0.1', MANDATE_ADMIN_TOKEN: ADMIN, MANDATE_REDIS_PREFIX: 'bench-signal:', MANDATE_CONFIG: config, MANDATE_LOG_LEVEL: 'warn' };
const a = await startMandate({ api: true, worker: true, handleSignals: false, env: { ...env, MANDATE_PORT: String(await freePort()) } });
const portB = await freePort();
const b = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], { env: { ...process.env, ...env, MANDATE_PORT: String(portB) }, stdio: ['ignore', 'pipe', 'inherit'] });
await new Promise<void>((ok) => b.stdout?.on('data', (d: Buffer) => d.toString().includes('listening') && ok()));
const A = a.url as string;
const B = `http://127.0.0.1:${portB}`;

const json = async (url: string, init: RequestInit) => (await fetch(url, init)).json() as Promise<Record<string, unknown>>;
const adminPost = (path: string, body: unknown) =>
  json(`${A}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const agent = basic('agent', String((await adminPost('/admin/clients', { client_id: 'agent', name: 'a', kind: 'agent' })).client_secret));
const crm = basic('crm', String((await adminPost('/admin/clients', { client_id: 'crm', name: 'c', kind: 'resource', resources: [CRM] })).client_secret));
const form = (auth: string, body: Record<string, string>) => ({ method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body).toString() });
const mint = async (i: number) =>
  json(`${A}/oauth/token`, form(agent, { grant_type: 'client_credentials', authorization_details: JSON.stringify([{ type: 'agent_task', task_id: `S-${i}`, actions: ['read'], locations: [CRM] }]) }));
const active = async (base: string, token: string) => (await json(`${base}/oauth/introspect`, form(crm, { token }))).active === true;

const pct = (xs: number[], p: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const signalMs: number[] = [];
const crossMs: number[] = [];
let failures = 0;
for (let i = 0; i < N; i += 1) {
  const t = await mint(i);
  const token = String(t.access_token);
  // Signal -> inactive: the signal is re-evaluated before the 202; the next check must say inactive.
  const t0 = performance.now();
  await json(`${A}/v1/signals`, { method: 'POST', headers: { authorization: crm, 'content-type': 'application/json' }, body: JSON.stringify({ grant_id: t.grant_id, type: 'prompt_changed', context: { actions: ['export'] } }) });
  if (await active(A, token)) failures += 1;
  signalMs.push(performance.now() - t0);
  // Revocation on A -> inactive on B at the very next request.
  if (i % 10 === 0) {
    const u = await mint(N + i);
    const r0 = performance.now();
    await adminPost('/admin/revocations', { grant_id: u.grant_id, reason: 'bench' });
    if (await active(B, String(u.access_token))) failures += 1;
    crossMs.push(performance.now() - r0);
  }
}
const out = {
  signals: N,
  signal_to_inactive_ms: { p50: +pct(signalMs, 50).toFixed(2), p99: +pct(signalMs, 99).toFixed(2), max: +Math.max(...signalMs).toFixed(2) },
  revoke_on_a_inactive_on_b_ms: { samples: crossMs.length, p50: +pct(crossMs, 50).toFixed(2), p99: +pct(crossMs, 99).toFixed(2) },
  still_active_after_revocation: failures,
};
console.log(JSON.stringify(out));
b.kill('SIGTERM');
await a.close();
await redis.stop();
process.exit(failures ? 1 : 0);
