// Broker RSS under a long mixed load: does the memory of one broker process (API + worker) level off or keep growing?
//
// Run (no npm script needed):
//   node_modules/.bin/node --import tsx scripts/bench/rss-mixed.ts
// Settings (environment):
//   BENCH_MIXED_SECONDS        measured load, default 300
//   BENCH_MIXED_WARMUP_SECONDS same load before the first sample, default 20 (JIT, pools, caches)
//   BENCH_MIXED_CONCURRENCY    concurrent client loops, default 8
//   BENCH_RSS_EVERY_SECONDS    sampling period, default 5
//   BENCH_MIXED_COMMAND        `start` (API + worker in one process, default) or `serve` (API only)
//   BENCH_NODE_FLAGS           extra Node flags for the broker, e.g. `--max-old-space-size=128` (is the growth
//                              garbage V8 may keep, or live objects it must?)
//   BENCH_HEAP_SNAPSHOTS=1     also write V8 heap snapshots of the broker after warm-up and at the end
//                              (--heapsnapshot-signal=SIGUSR2; files in bench-results/heap/). A snapshot
//                              pauses the broker and inflates its RSS: use it to find a cause, not for the figure.
// Each client loop repeats one task's life: token (client_credentials), 2 introspections,
// 2 AuthZEN evaluations, refresh (rotation), 1 introspection and 1 evaluation of the new token,
// then one revocation, rotating between: the agent ends the grant (POST /oauth/revoke with the
// refresh token), an admin ends the grant (POST /admin/revocations {grant_id}), and an admin
// revokes the access token (POST /admin/revocations {jti}; that grant stays live until its TTL).
// Four agents share the loops. Every sample reads VmRSS from /proc/<pid>/status and the broker's
// V8 heap figures from /metrics; at boot, after warm-up and at the end the RSS is also split by
// kind of mapping (/proc/<pid>/smaps). The slope over the last half of the samples (least squares,
// MB/min) is what shows a leak. Compare two heap snapshots with heap-diff.ts. Prints a summary and
// writes bench-results/rss-mixed-<timestamp>.json (and -latest.json).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  type Broker,
  latencySummary,
  machineMeta,
  newAdminToken,
  post,
  RESOURCE,
  readTask,
  registerClient,
  round2,
  startBroker,
  writeBrokerConfig,
  writeFigure,
} from './broker-processes.ts';
import { startPrivateRedis } from './private-redis.ts';

const env = process.env;
const positive = (name: string, fallback: number) => {
  const value = Number(env[name] ?? fallback);
  if (!(value > 0)) throw new Error(`${name} must be a positive number, got ${env[name]}`);
  return value;
};
const SECONDS = positive('BENCH_MIXED_SECONDS', 300);
const WARMUP_SECONDS = positive('BENCH_MIXED_WARMUP_SECONDS', 20);
const CONCURRENCY = Math.round(positive('BENCH_MIXED_CONCURRENCY', 8));
const EVERY_SECONDS = positive('BENCH_RSS_EVERY_SECONDS', 5);
const COMMAND = env.BENCH_MIXED_COMMAND ?? 'start';
const HEAP_SNAPSHOTS = env.BENCH_HEAP_SNAPSHOTS === '1';
const NODE_FLAGS = (env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const AGENTS = 4;
/** Latency samples kept per operation (a reservoir beyond that), so the driver's own memory stays flat. */
const RESERVOIR = 50_000;
const HEAP_DIR = resolve(
  env.BENCH_OUT_DIR ?? join(import.meta.dirname, '../../bench-results'),
  'heap',
);

if (COMMAND !== 'start' && COMMAND !== 'serve')
  throw new Error(`BENCH_MIXED_COMMAND must be start or serve, got ${COMMAND}`);

type Op = 'token' | 'refresh' | 'introspection' | 'evaluation' | 'revocation';
const OPS: Op[] = ['token', 'refresh', 'introspection', 'evaluation', 'revocation'];

interface Sample {
  /** Seconds since the end of the warm-up. */
  readonly t: number;
  readonly rssMb: number;
  readonly heapUsedMb: number | null;
  readonly heapTotalMb: number | null;
  readonly externalMb: number | null;
  /** Capacity of each V8 heap space (new, old, code, large_object, ...), MB. */
  readonly spacesMb: Record<string, number>;
  /** Requests completed so far (all operations). */
  readonly requests: number;
}

const latencies = new Map<Op, number[]>(OPS.map((op) => [op, []]));
const counts = new Map<Op, number>(OPS.map((op) => [op, 0]));
const errors = new Map<string, number>();
let completed = 0;

function observe(op: Op, ms: number): void {
  const list = latencies.get(op) as number[];
  const n = (counts.get(op) as number) + 1;
  counts.set(op, n);
  completed++;
  if (list.length < RESERVOIR) list.push(ms);
  else {
    const k = Math.floor(Math.random() * n);
    if (k < RESERVOIR) list[k] = ms;
  }
}

function fail(what: string): void {
  errors.set(what, (errors.get(what) ?? 0) + 1);
}

function readRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) / 1024;
}

/** Heap figures from prom-client's default metrics (null when /metrics does not answer in time). */
async function readHeap(
  baseUrl: string,
): Promise<Pick<Sample, 'heapUsedMb' | 'heapTotalMb' | 'externalMb' | 'spacesMb'>> {
  try {
    const text = await (
      await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(3000) })
    ).text();
    const metric = (name: string) => {
      const m = new RegExp(`^mandate_${name} (\\S+)$`, 'm').exec(text);
      return m ? round2(Number(m[1]) / 1024 / 1024) : null;
    };
    const spacesMb: Record<string, number> = {};
    for (const m of text.matchAll(
      /^mandate_nodejs_heap_space_size_total_bytes\{space="(\w+)"\} (\S+)$/gm,
    ))
      spacesMb[m[1] as string] = round2(Number(m[2]) / 1024 / 1024);
    return {
      heapUsedMb: metric('nodejs_heap_size_used_bytes'),
      heapTotalMb: metric('nodejs_heap_size_total_bytes'),
      externalMb: metric('nodejs_external_memory_bytes'),
      spacesMb,
    };
  } catch {
    return { heapUsedMb: null, heapTotalMb: null, externalMb: null, spacesMb: {} };
  }
}

/** glibc maps each per-thread malloc arena at an address aligned to its 64 MiB maximum size. */
const ARENA_BYTES = 64 * 2 ** 20;

/**
 * Where the RSS is, from /proc/<pid>/smaps, MB resident per group: `malloc_arenas` (anonymous
 * mappings of at most 64 MiB starting on a 64 MiB boundary: glibc's per-thread arenas, used by
 * libuv's thread pool, OpenSSL and other native code; a heuristic, a V8 page can land there by
 * chance), `brk_heap` (the main thread's malloc heap), `large_reservations` (1 GiB or more
 * reserved: V8's code range, WebAssembly memories), `other_anonymous` (V8 heap pages, thread
 * stacks, anything else), `file_backed` (the node binary and libraries), and the `largest`
 * mappings themselves.
 */
function rssByMapping(pid: number): Record<string, unknown> | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const groups: Record<string, number> = {
    malloc_arenas: 0,
    brk_heap: 0,
    large_reservations: 0,
    other_anonymous: 0,
    file_backed: 0,
    other: 0,
  };
  const mappings: { range: string; sizeMb: number; rssMb: number; group: string; path: string }[] =
    [];
  let current: (typeof mappings)[number] | undefined;
  for (const line of text.split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) {
      const [range = '', , , , inode, path = ''] = line.split(/\s+/);
      const [from = 0, to = 0] = range.split('-').map((h) => Number.parseInt(h, 16));
      const size = to - from;
      let group = 'other';
      if (path === '[heap]') group = 'brk_heap';
      else if (inode !== '0' && path.startsWith('/')) group = 'file_backed';
      else if (path === '' || path.startsWith('[anon')) {
        if (size >= 2 ** 30) group = 'large_reservations';
        else if (from % ARENA_BYTES === 0 && size <= ARENA_BYTES) group = 'malloc_arenas';
        else group = 'other_anonymous';
      }
      current = { range, sizeMb: round2(size / 2 ** 20), rssMb: 0, group, path };
      mappings.push(current);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) {
      current.rssMb = round2(Number(rss[1]) / 1024);
      groups[current.group] = (groups[current.group] as number) + Number(rss[1]) / 1024;
    }
  }
  const largest = mappings.sort((x, y) => y.rssMb - x.rssMb).slice(0, 8);
  return { ...Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, round2(v)])), largest };
}

/** Least-squares slope of y over t (seconds), in units per minute. */
function slopePerMinute(points: readonly { t: number; y: number }[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.y - my);
    den += (p.t - mt) ** 2;
  }
  return den > 0 ? round2((num / den) * 60) : null;
}

/** Sends SIGUSR2 and waits until the new .heapsnapshot file stops growing. */
async function takeHeapSnapshot(broker: Broker, label: string): Promise<string | undefined> {
  const before = new Set(readdirSync(HEAP_DIR));
  const t0 = performance.now();
  process.kill(broker.server.pid, 'SIGUSR2');
  for (let size = -1; performance.now() - t0 < 180_000; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const file = readdirSync(HEAP_DIR).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const now = statSync(join(HEAP_DIR, file)).size;
    if (now > 0 && now === size) {
      console.log(
        `rss-mixed: heap snapshot (${label}) ${join(HEAP_DIR, file)}, ${(now / 1e6).toFixed(0)} MB, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      return join(HEAP_DIR, file);
    }
    size = now;
  }
  console.warn(`rss-mixed: heap snapshot (${label}) not written within 180 s`);
  return undefined;
}

const metaAtStart = machineMeta();
const redis = await startPrivateRedis();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-rss-'));
let broker: Broker | undefined;
let exitCode = 1;
try {
  const adminToken = newAdminToken();
  // The worker sweeps every 30 s (the shipped default), so `start` runs sweeps during the load.
  const configFile = await writeBrokerConfig(workDir, { sweepEveryMs: 30_000 });
  if (HEAP_SNAPSHOTS) mkdirSync(HEAP_DIR, { recursive: true });
  broker = await startBroker({
    name: 'broker',
    command: COMMAND,
    redisUrl: redis.url,
    workDir,
    configFile,
    adminToken,
    prefix: 'bench-rss:',
    nodeArgs: [
      ...NODE_FLAGS,
      ...(HEAP_SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${HEAP_DIR}`] : []),
    ],
  });
  const base = broker.baseUrl;
  const pid = broker.server.pid;
  const rssAtBoot = readRssMb(pid);
  const mappingsAtBoot = rssByMapping(pid);
  const resource = await registerClient(base, adminToken, {
    client_id: 'bench-crm',
    name: 'bench CRM',
    kind: 'resource',
    resources: [RESOURCE],
  });
  const agents = await Promise.all(
    Array.from({ length: AGENTS }, (_, i) =>
      registerClient(base, adminToken, {
        client_id: `bench-agent-${i}`,
        name: `bench agent ${i}`,
        kind: 'agent',
      }),
    ),
  );
  const admin = `Bearer ${adminToken}`;

  let stopAt = Number.POSITIVE_INFINITY;
  let cycles = 0;
  const revocationKinds = ['oauth_refresh', 'admin_grant', 'admin_jti'] as const;
  const timed = async (
    op: Op,
    call: () => ReturnType<typeof post>,
    ok: (a: Awaited<ReturnType<typeof post>>) => boolean,
  ) => {
    const t0 = performance.now();
    let answer: Awaited<ReturnType<typeof post>>;
    try {
      answer = await call();
    } catch (err) {
      fail(`${op}: ${(err as Error).name}`);
      return undefined;
    }
    observe(op, performance.now() - t0);
    if (!ok(answer)) {
      fail(
        `${op}: HTTP ${answer.status} ${String(answer.body.error ?? answer.body.title ?? answer.body.decision ?? answer.body.active ?? '')}`,
      );
      return undefined;
    }
    return answer;
  };
  const evaluate = (agentId: string, token: string) =>
    timed(
      'evaluation',
      () =>
        post(
          `${base}/access/v1/evaluation`,
          resource,
          {
            subject: { type: 'agent', id: agentId, properties: { token } },
            action: { name: 'read' },
            resource: { type: 'resource', id: RESOURCE },
            context: { ip: '203.0.113.9' },
          },
          'json',
        ),
      (a) => a.status === 200 && a.body.decision === true,
    );
  const introspect = (token: string) =>
    timed(
      'introspection',
      () => post(`${base}/oauth/introspect`, resource, { token }, 'form'),
      (a) => a.status === 200 && a.body.active === true,
    );

  const loop = async (w: number) => {
    for (let n = 0; performance.now() < stopAt; n++) {
      const a = (w + n) % AGENTS;
      const agent = agents[a] as string;
      const agentId = `bench-agent-${a}`;
      const minted = await timed(
        'token',
        () =>
          post(
            `${base}/oauth/token`,
            agent,
            { grant_type: 'client_credentials', authorization_details: readTask(`M-${w}-${n}`) },
            'form',
          ),
        (x) => x.status === 200 && typeof x.body.access_token === 'string',
      );
      if (!minted) continue;
      const access = String(minted.body.access_token);
      await introspect(access);
      await evaluate(agentId, access);
      await introspect(access);
      await evaluate(agentId, access);
      const refreshed = await timed(
        'refresh',
        () =>
          post(
            `${base}/oauth/token`,
            agent,
            { grant_type: 'refresh_token', refresh_token: String(minted.body.refresh_token) },
            'form',
          ),
        (x) => x.status === 200 && typeof x.body.access_token === 'string',
      );
      const current = refreshed ? String(refreshed.body.access_token) : access;
      const refresh = String((refreshed ?? minted).body.refresh_token);
      await introspect(current);
      await evaluate(agentId, current);
      const kind = revocationKinds[(w + n) % revocationKinds.length];
      if (kind === 'oauth_refresh')
        await timed(
          'revocation',
          () =>
            post(
              `${base}/oauth/revoke`,
              agent,
              { token: refresh, token_type_hint: 'refresh_token' },
              'form',
            ),
          (x) => x.status === 200,
        );
      else if (kind === 'admin_grant')
        await timed(
          'revocation',
          () =>
            post(
              `${base}/admin/revocations`,
              admin,
              { grant_id: String(minted.body.grant_id), reason: 'bench' },
              'json',
            ),
          (x) => x.status === 200,
        );
      else {
        const jti = (
          JSON.parse(Buffer.from(current.split('.')[1] ?? '', 'base64url').toString()) as {
            jti: string;
          }
        ).jti;
        await timed(
          'revocation',
          () => post(`${base}/admin/revocations`, admin, { jti, reason: 'bench' }, 'json'),
          (x) => x.status === 200,
        );
      }
      cycles++;
    }
  };

  console.log(
    `rss-mixed: broker \`${COMMAND}\` pid ${pid}, ${CONCURRENCY} loops, ${WARMUP_SECONDS} s warm-up then ${SECONDS} s measured, RSS every ${EVERY_SECONDS} s`,
  );
  const loops = Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => loop(w)));
  await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000));
  const snapshots: string[] = [];
  if (HEAP_SNAPSHOTS) {
    const file = await takeHeapSnapshot(broker, 'after warm-up');
    if (file) snapshots.push(file);
    // The snapshot pauses the broker for seconds: calls in flight may time out (counted as warm-up errors).
    await new Promise((r) => setTimeout(r, 3000));
  }
  const warmupRequests = completed;
  // The figures below are for the measured window only.
  for (const op of OPS) {
    counts.set(op, 0);
    (latencies.get(op) as number[]).length = 0;
  }
  const warmupErrors = [...errors.values()].reduce((s, n) => s + n, 0);
  errors.clear();

  const samples: Sample[] = [];
  const t0 = performance.now();
  stopAt = t0 + SECONDS * 1000;
  const sample = async () => {
    if (!broker?.server.alive()) return;
    const rssMb = round2(readRssMb(pid));
    const heap = await readHeap(base);
    samples.push({
      t: round2((performance.now() - t0) / 1000),
      rssMb,
      ...heap,
      requests: completed - warmupRequests,
    });
  };
  await sample();
  const mappingsAfterWarmup = rssByMapping(pid);
  const sampler = setInterval(() => void sample(), EVERY_SECONDS * 1000);
  let lastReport = 0;
  const progress = setInterval(() => {
    const last = samples.at(-1);
    if (!last || last.t - lastReport < 60) return;
    lastReport = last.t;
    console.log(
      `rss-mixed: ${last.t.toFixed(0)} s: RSS ${last.rssMb.toFixed(1)} MB, heap used ${last.heapUsedMb} MB, ${last.requests} requests`,
    );
  }, 5000);
  await loops;
  clearInterval(sampler);
  clearInterval(progress);
  await sample();
  const measuredSec = (performance.now() - t0) / 1000;
  const mappingsAtEnd = rssByMapping(pid);
  const rssAtEndHwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (HEAP_SNAPSHOTS) {
    const file = await takeHeapSnapshot(broker, 'at the end');
    if (file) snapshots.push(file);
  }

  const first = samples[0] as Sample;
  const last = samples.at(-1) as Sample;
  const half = samples.filter((s) => s.t >= measuredSec / 2);
  const series = (pick: (s: Sample) => number | null, from: readonly Sample[]) =>
    from.flatMap((s) => (pick(s) === null ? [] : [{ t: s.t, y: pick(s) as number }]));
  const requests = last.requests;
  const result = {
    figure: 'broker RSS after a mixed load',
    command: `BENCH_MIXED_SECONDS=${SECONDS}${NODE_FLAGS.length ? ` BENCH_NODE_FLAGS='${NODE_FLAGS.join(' ')}'` : ''} node_modules/.bin/node --import tsx scripts/bench/rss-mixed.ts`,
    meta: { ...metaAtStart, loadAverageAtEnd: machineMeta().loadAverage },
    settings: {
      seconds: SECONDS,
      warmup_seconds: WARMUP_SECONDS,
      concurrency: CONCURRENCY,
      sample_every_seconds: EVERY_SECONDS,
      broker: `mandate ${COMMAND} (${COMMAND === 'start' ? 'API + worker' : 'API only'}), sweep every 30 s`,
      agents: AGENTS,
      heap_snapshots: HEAP_SNAPSHOTS,
      node_flags: NODE_FLAGS,
      cycle:
        'token, introspection x3, evaluation x3, refresh, revocation (oauth refresh / admin grant / admin jti in turn)',
    },
    rss_mb: {
      at_boot: round2(rssAtBoot),
      at_start_after_warmup: first.rssMb,
      at_end: last.rssMb,
      max_sampled: Math.max(...samples.map((s) => s.rssMb)),
      peak_vmhwm: rssAtEndHwm ? round2(Number(rssAtEndHwm) / 1024) : null,
      slope_last_half_mb_per_min: slopePerMinute(series((s) => s.rssMb, half)),
      slope_whole_run_mb_per_min: slopePerMinute(series((s) => s.rssMb, samples)),
    },
    heap_used_mb: {
      at_start_after_warmup: first.heapUsedMb,
      at_end: last.heapUsedMb,
      slope_last_half_mb_per_min: slopePerMinute(series((s) => s.heapUsedMb, half)),
    },
    /** V8's heap capacity (live objects plus garbage not yet collected plus free room). */
    heap_total_mb: {
      at_start_after_warmup: first.heapTotalMb,
      at_end: last.heapTotalMb,
      slope_last_half_mb_per_min: slopePerMinute(series((s) => s.heapTotalMb, half)),
      spaces_at_end: last.spacesMb,
    },
    /** Resident MB per kind of mapping (see rssByMapping), at boot, after warm-up and at the end. */
    rss_by_mapping_mb: {
      at_boot: mappingsAtBoot,
      at_start_after_warmup: mappingsAfterWarmup,
      at_end: mappingsAtEnd,
    },
    /** RSS minus V8 heap capacity and external memory: code, WebAssembly (Cedar), malloc, thread stacks. */
    rest_of_rss_mb: {
      at_start_after_warmup:
        first.heapTotalMb === null
          ? null
          : round2(first.rssMb - first.heapTotalMb - (first.externalMb ?? 0)),
      at_end:
        last.heapTotalMb === null
          ? null
          : round2(last.rssMb - last.heapTotalMb - (last.externalMb ?? 0)),
    },
    load: {
      measured_seconds: round2(measuredSec),
      requests,
      requests_per_sec: round2(requests / measuredSec),
      warmup_requests: warmupRequests,
      warmup_errors: warmupErrors,
      task_cycles_including_warmup: cycles,
      by_operation: Object.fromEntries(
        OPS.map((op) => [
          op,
          { count: counts.get(op), latency_ms: latencySummary(latencies.get(op) as number[]) },
        ]),
      ),
      errors: Object.fromEntries(errors),
    },
    heap_snapshots: snapshots,
    samples,
  };
  const files = await writeFigure('rss-mixed', result);
  const r = result.rss_mb;
  const totalErrors = warmupErrors + [...errors.values()].reduce((s, n) => s + n, 0);
  console.log(
    `rss-mixed: ${requests} requests in ${measuredSec.toFixed(0)} s (${result.load.requests_per_sec} req/s), ${totalErrors} errors; ` +
      `RSS ${r.at_start_after_warmup} MB after warm-up -> ${r.at_end} MB at the end (max ${r.max_sampled} MB, boot ${r.at_boot} MB); ` +
      `slope over the last half ${r.slope_last_half_mb_per_min} MB/min (whole run ${r.slope_whole_run_mb_per_min}); ` +
      `V8 heap capacity ${result.heap_total_mb.at_start_after_warmup} -> ${result.heap_total_mb.at_end} MB, rest of RSS ${result.rest_of_rss_mb.at_start_after_warmup} -> ${result.rest_of_rss_mb.at_end} MB`,
  );
  for (const [what, n] of errors) console.log(`  error x${n}: ${what}`);
  console.log(`rss-mixed: wrote ${files.join(', ')}`);
  exitCode = totalErrors === 0 && broker.server.alive() ? 0 : 1;
} catch (err) {
  console.error(`rss-mixed: ${(err as Error).stack ?? String(err)}`);
  if (broker) console.error(`--- broker log tail ---\n${broker.server.logTail()}`);
} finally {
  await broker?.server.stop();
  await redis.stop();
  if (existsSync(workDir)) await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
