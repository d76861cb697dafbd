// Mandate broker processes for the figure scripts (signal latency, revocation propagation, RSS under load):
// a bench config, brokers as child processes on one private Redis, the clients they need, and the JSON output.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './free-port.ts';
import { type ServerProcess, startServerProcess } from './server-process.ts';
import { basicAuth } from './targets.ts';

const REPO = resolve(import.meta.dirname, '../..');
export const RESOURCE = 'https://crm.example.com';
/** Default policies that exist to stop an agent calling this often: a load test must not trip them. */
const THROTTLE_POLICIES = ['call-volume'];

export interface BrokerConfigOptions {
  /** Worker sweep period; only matters for a broker run with `start` (API + worker). */
  readonly sweepEveryMs?: number;
}

/**
 * The default policies minus the call-volume throttle, written under `workDir`: the `policy`
 * section of a bench config (`npm run bench` and the figure scripts share it).
 */
export async function benchPolicies(workDir: string): Promise<{ dir: string; schema: string }> {
  const dir = join(workDir, 'policies');
  await mkdir(dir, { recursive: true });
  let policies = await readFile(join(REPO, 'config/policies/default.cedar'), 'utf8');
  for (const id of THROTTLE_POLICIES) {
    // A policy runs from its @id annotation to the `;` closing it (these bodies hold no other `;`).
    const pattern = new RegExp(`@id\\("${id}"\\)[^;]*;`);
    if (!pattern.test(policies))
      console.warn(`bench: policy ${id} not found; Mandate may throttle the load`);
    policies = policies.replace(pattern, `// (${id} removed for the benchmark)`);
  }
  await writeFile(join(dir, 'default.cedar'), policies);
  return { dir, schema: join(REPO, 'config/schema.cedarschema') };
}

/** Writes `config` as `workDir/mandate.yaml` (JSON is YAML: no need for a YAML writer); returns its path. */
export async function writeConfigFile(
  workDir: string,
  config: object,
  name = 'mandate.yaml',
): Promise<string> {
  const file = join(workDir, name);
  await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

/**
 * Writes a config for figure runs: the bench policies, and rate limits high enough that the many
 * inactive answers a revocation benchmark provokes are never answered 429 (a 429 would otherwise
 * be mistaken for "inactive").
 */
export async function writeBrokerConfig(
  workDir: string,
  options: BrokerConfigOptions = {},
): Promise<string> {
  return writeConfigFile(workDir, {
    tokens: { access_ttl: 900 },
    policy: await benchPolicies(workDir),
    worker: { sweep_every_ms: options.sweepEveryMs ?? 30_000 },
    rate_limit: { auth_failures_per_minute: 1000, invalid_tokens_per_minute: 1_000_000 },
    // One bench agent holds every grant a run mints.
    limits: { max_live_grants_per_agent: 1_000_000 },
  });
}

export interface BrokerOptions {
  readonly name: string;
  /** `serve` runs the API only, `start` the API and the re-evaluation worker in one process. */
  readonly command: 'serve' | 'start';
  readonly redisUrl: string;
  readonly workDir: string;
  readonly configFile: string;
  readonly adminToken: string;
  /** Brokers that share this prefix (and Redis) act as one deployment. */
  readonly prefix: string;
  /**
   * The issuer every replica signs and expects (MANDATE_ISSUER). Without it each process defaults to
   * its own URL, and a second broker answers `wrong_issuer` (inactive) for every token of the first.
   */
  readonly issuer?: string;
  /** Node flags placed before the script, e.g. `--heapsnapshot-signal=SIGUSR2`. */
  readonly nodeArgs?: readonly string[];
  /** HTTP processes `serve` runs on its port (MANDATE_PROCESSES); default 1, this one process. */
  readonly processes?: number;
  /** More env entries (e.g. MANDATE_REDIS_MIN_REPLICAS_ACK). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface Broker {
  readonly server: ServerProcess;
  readonly baseUrl: string;
}

/** Starts `src/cli.ts <command>` as its own process (so the load generator never shares its event loop). */
export async function startBroker(options: BrokerOptions): Promise<Broker> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = await startServerProcess({
    name: options.name,
    args: [
      ...(options.nodeArgs ?? []),
      '--import',
      'tsx',
      join(REPO, 'src/cli.ts'),
      options.command,
    ],
    env: {
      MANDATE_PORT: String(port),
      MANDATE_HOST: '127.0.0.1',
      REDIS_URL: options.redisUrl,
      MANDATE_REDIS_PREFIX: options.prefix,
      MANDATE_ADMIN_TOKEN: options.adminToken,
      MANDATE_CONFIG: options.configFile,
      MANDATE_LOG_LEVEL: 'warn',
      MANDATE_PROCESSES: String(options.processes ?? 1),
      ...(options.issuer ? { MANDATE_ISSUER: options.issuer } : {}),
      ...options.env,
    },
    readyUrl: `${baseUrl}/readyz`,
    logFile: join(options.workDir, `${options.name}.log`),
    readyTimeoutMs: 60_000,
  });
  return { server, baseUrl };
}

export function newAdminToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The `Authorization` values of the clients a figure script drives. */
export interface BenchClients {
  /** Agent client (Basic), allowed to ask for `read` on RESOURCE. */
  readonly agent: string;
  readonly agentId: string;
  /** Resource client (Basic) serving RESOURCE: introspects, evaluates and signals. */
  readonly resource: string;
  /** Admin bearer. */
  readonly admin: string;
}

/** Registers one agent and one resource client through the admin API. */
export async function registerClients(
  baseUrl: string,
  adminToken: string,
  agentId = 'bench-agent',
): Promise<BenchClients> {
  const agent = await registerClient(baseUrl, adminToken, {
    client_id: agentId,
    name: 'bench agent',
    kind: 'agent',
  });
  const resource = await registerClient(baseUrl, adminToken, {
    client_id: 'bench-crm',
    name: 'bench CRM',
    kind: 'resource',
    resources: [RESOURCE],
  });
  return { agent, agentId, resource, admin: `Bearer ${adminToken}` };
}

/** POST /admin/clients; returns the new client's `Authorization: Basic` value. */
export async function registerClient(
  baseUrl: string,
  adminToken: string,
  body: { client_id: string } & Record<string, unknown>,
): Promise<string> {
  const res = await fetch(`${baseUrl}/admin/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 201)
    throw new Error(`POST /admin/clients -> HTTP ${res.status}: ${text.slice(0, 300)}`);
  const json = JSON.parse(text) as { client_secret?: string };
  if (!json.client_secret) throw new Error('POST /admin/clients answered without a client_secret');
  return basicAuth(body.client_id, json.client_secret);
}

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** POSTs a form or JSON body and returns status and parsed JSON (an empty body gives `{}`). */
export async function post(
  url: string,
  auth: string,
  body: Record<string, string> | object,
  as: 'form' | 'json',
): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: auth,
      'content-type': as === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
    },
    body:
      as === 'form'
        ? new URLSearchParams(body as Record<string, string>).toString()
        : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  if (text) {
    try {
      parsed = JSON.parse(text) as Record<string, unknown>;
    } catch {
      parsed = { unparsed: text.slice(0, 200) };
    }
  }
  return { status: res.status, body: parsed };
}

/** The one authorization_details entry the bench agent asks for: `read` on RESOURCE for one task. */
export function readTask(taskId: string): string {
  return JSON.stringify([
    { type: 'agent_task', task_id: taskId, actions: ['read'], locations: [RESOURCE] },
  ]);
}

/** The payload's jti of an access token. */
export function jtiOf(jwt: string): string {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as {
    jti?: string;
  };
  if (!payload.jti) throw new Error('access token without jti');
  return payload.jti;
}

/** Nearest-rank percentile (the value below which p% of the samples lie), rounded to 0.01 ms. */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return round2(sorted[rank - 1] as number);
}

/** p50, p99 and max of latency samples in ms. */
export function latencySummary(samples: readonly number[]) {
  return {
    samples: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: samples.length ? round2(Math.max(...samples)) : null,
  };
}

export function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

/** What every figure's JSON carries about the machine: the load average matters on a shared box. */
export function machineMeta(): Record<string, unknown> {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    loadAverage: loadavg(),
  };
}

/**
 * Writes bench-results/<figure>-<timestamp>.json and bench-results/<figure>-latest.json (the
 * convention of report.ts's writeReport, with the figure's name in front; BENCH_OUT_DIR moves them).
 */
export async function writeFigure(figure: string, data: unknown): Promise<string[]> {
  const outDir = resolve(process.env.BENCH_OUT_DIR ?? join(REPO, 'bench-results'));
  await mkdir(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(data, null, 2)}\n`;
  const files = [join(outDir, `${figure}-${stamp}.json`), join(outDir, `${figure}-latest.json`)];
  for (const file of files) await writeFile(file, json);
  return files;
}
