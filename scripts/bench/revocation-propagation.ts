// Revocation on broker A -> inactive on broker B at B's very next request: two broker processes, one Redis.
//
// Run (no npm script needed):
//   node_modules/.bin/node --import tsx scripts/bench/revocation-propagation.ts [trials]
// trials (per revocation kind) defaults to 200 (or BENCH_TRIALS); BENCH_REVOKE_MODES picks the kinds
// (comma-separated, default all three):
//   oauth_access   the agent revokes its access token:  POST /oauth/revoke token=<access>, hint access_token
//   oauth_refresh  the agent ends the grant:            POST /oauth/revoke token=<refresh>, hint refresh_token
//   admin_jti      an admin revokes the token by jti:    POST /admin/revocations {jti}
// Two `mandate serve` processes (A and B) share one private Redis, prefix and MANDATE_ISSUER. Per trial: mint on A,
// introspect on B until it says active, introspect B a few more times (its client and key caches
// are warm), revoke on A, and as soon as A answers, introspect on B. That first answer must be
// 200 {active:false}; if it is not, B is polled until it is, so the time from A's revoke answer to
// B's inactive answer is known for every trial. Kinds are interleaved so machine load hits them alike.
// Prints a summary and writes bench-results/revocation-propagation-<timestamp>.json (and -latest.json).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Answer,
  type Broker,
  jtiOf,
  latencySummary,
  machineMeta,
  newAdminToken,
  post,
  readTask,
  registerClients,
  startBroker,
  writeBrokerConfig,
  writeFigure,
} from './broker-processes.ts';
import { startPrivateRedis } from './private-redis.ts';

const MODES = ['oauth_access', 'oauth_refresh', 'admin_jti'] as const;
type Mode = (typeof MODES)[number];

const TRIALS = Number(process.argv[2] ?? process.env.BENCH_TRIALS ?? 200);
const modes = (process.env.BENCH_REVOKE_MODES ?? MODES.join(','))
  .split(',')
  .map((m) => m.trim()) as Mode[];
/** Introspections on B after the first active one, so the revocation meets a warmed-up B. */
const WARM_INTROSPECTIONS = 3;
/** How long B may take to see a fresh token or a revocation before the trial counts as failed. */
const POLL_LIMIT_MS = 5000;

if (!(Number.isInteger(TRIALS) && TRIALS > 0))
  throw new Error(`trials must be a positive integer, got ${TRIALS}`);
for (const m of modes)
  if (!MODES.includes(m)) throw new Error(`unknown revocation kind ${m}; use ${MODES.join(', ')}`);

interface ModeStats {
  trials: number;
  inactiveOnFirstRequest: number;
  /** Trials where B never answered inactive within POLL_LIMIT_MS. */
  neverInactive: number;
  revokeMs: number[];
  propagationMs: number[];
  /** Answers after the revoke that were active (0 when every first request was inactive). */
  activeAnswersAfterRevoke: number;
}

const metaAtStart = machineMeta();
const redis = await startPrivateRedis();
const workDir = await mkdtemp(join(tmpdir(), 'mandate-propagation-'));
const brokers: Broker[] = [];
let exitCode = 1;
try {
  const adminToken = newAdminToken();
  const configFile = await writeBrokerConfig(workDir);
  const common = {
    command: 'serve' as const,
    redisUrl: redis.url,
    workDir,
    configFile,
    adminToken,
    prefix: 'bench-propagation:',
    issuer: 'http://mandate.bench.invalid',
  };
  // A first: it creates the signing key; B then starts on the same key ring, as a second replica would.
  const a = await startBroker({ name: 'broker-a', ...common });
  brokers.push(a);
  const b = await startBroker({ name: 'broker-b', ...common });
  brokers.push(b);
  const clients = await registerClients(a.baseUrl, adminToken);

  const problems: string[] = [];
  const problem = (what: string) => {
    if (problems.length < 20) problems.push(what);
  };
  let mintToActivePolls = 0;
  let activeOnFirstPoll = 0;
  const stats = new Map<Mode, ModeStats>(
    modes.map((m) => [
      m,
      {
        trials: 0,
        inactiveOnFirstRequest: 0,
        neverInactive: 0,
        revokeMs: [],
        propagationMs: [],
        activeAnswersAfterRevoke: 0,
      },
    ]),
  );
  const introspectB = (token: string) =>
    post(`${b.baseUrl}/oauth/introspect`, clients.resource, { token }, 'form');
  const expectOk = (what: string, answer: Answer) => {
    if (answer.status !== 200)
      throw new Error(`${what} -> HTTP ${answer.status} ${JSON.stringify(answer.body)}`);
  };

  const revokeOnA = async (mode: Mode, access: string, refresh: string): Promise<Answer> => {
    if (mode === 'oauth_access')
      return post(
        `${a.baseUrl}/oauth/revoke`,
        clients.agent,
        { token: access, token_type_hint: 'access_token' },
        'form',
      );
    if (mode === 'oauth_refresh')
      return post(
        `${a.baseUrl}/oauth/revoke`,
        clients.agent,
        { token: refresh, token_type_hint: 'refresh_token' },
        'form',
      );
    return post(
      `${a.baseUrl}/admin/revocations`,
      clients.admin,
      { jti: jtiOf(access), reason: 'bench' },
      'json',
    );
  };

  const warmup = Math.min(20, TRIALS);
  for (let i = 0; i < warmup + TRIALS * modes.length; i++) {
    const mode = modes[i % modes.length] as Mode;
    const minted = await post(
      `${a.baseUrl}/oauth/token`,
      clients.agent,
      { grant_type: 'client_credentials', authorization_details: readTask(`P-${i}`) },
      'form',
    );
    expectOk('mint on A', minted);
    const access = String(minted.body.access_token);
    const refresh = String(minted.body.refresh_token);

    // B sees the new grant (Redis is the only state, so this should be the first poll).
    const seenBy = performance.now() + POLL_LIMIT_MS;
    let polls = 0;
    for (;;) {
      polls++;
      const answer = await introspectB(access);
      expectOk('introspection on B', answer);
      if (answer.body.active === true) break;
      if (performance.now() > seenBy)
        throw new Error(`B did not see a token minted on A within ${POLL_LIMIT_MS} ms`);
    }
    for (let k = 0; k < WARM_INTROSPECTIONS; k++) {
      const answer = await introspectB(access);
      expectOk('introspection on B', answer);
      if (answer.body.active !== true)
        throw new Error(`B answered inactive for a live token: ${JSON.stringify(answer.body)}`);
    }

    const t0 = performance.now();
    const revoked = await revokeOnA(mode, access, refresh);
    const t1 = performance.now();
    let answer = await introspectB(access);
    let firstInactive = answer.status === 200 && answer.body.active === false;
    const first = firstInactive;
    let activeAfter = 0;
    // Only a 200 {active:false} counts as inactive: a 429 or 5xx is an error, never a success.
    while (!firstInactive && performance.now() - t1 < POLL_LIMIT_MS) {
      if (answer.status !== 200)
        problem(`${mode} trial ${i}: introspection on B -> HTTP ${answer.status}`);
      else activeAfter++;
      answer = await introspectB(access);
      firstInactive = answer.status === 200 && answer.body.active === false;
    }
    const t2 = performance.now();
    if (i < warmup) continue;

    mintToActivePolls += polls;
    if (polls === 1) activeOnFirstPoll++;
    const s = stats.get(mode) as ModeStats;
    s.trials++;
    if (revoked.status !== 200)
      problem(
        `${mode} trial ${i}: revoke on A -> HTTP ${revoked.status} ${JSON.stringify(revoked.body)}`,
      );
    if (
      mode === 'admin_jti' &&
      (revoked.body.revoked as { tokens?: number } | undefined)?.tokens !== 1
    )
      problem(`admin_jti trial ${i}: revoked ${JSON.stringify(revoked.body)}`);
    s.revokeMs.push(t1 - t0);
    s.activeAnswersAfterRevoke += activeAfter;
    if (first) s.inactiveOnFirstRequest++;
    if (firstInactive) s.propagationMs.push(t2 - t1);
    else s.neverInactive++;
  }

  const byMode = Object.fromEntries(
    [...stats].map(([mode, s]) => [
      mode,
      {
        trials: s.trials,
        inactive_on_first_request_on_b: s.inactiveOnFirstRequest,
        never_inactive_within_ms: { limit: POLL_LIMIT_MS, trials: s.neverInactive },
        active_answers_on_b_after_revoke: s.activeAnswersAfterRevoke,
        /** The revoke call on A, send to answer. */
        revoke_on_a_ms: latencySummary(s.revokeMs),
        /** From A's revoke answer to B's first {active:false} (one introspection when the first is inactive). */
        revoke_answer_to_inactive_on_b_ms: latencySummary(s.propagationMs),
      },
    ]),
  );
  const all = [...stats.values()];
  const total = all.reduce((n, s) => n + s.trials, 0);
  const firstInactive = all.reduce((n, s) => n + s.inactiveOnFirstRequest, 0);
  const result = {
    figure: 'revocation on broker A -> inactive on broker B, next request',
    command: `node_modules/.bin/node --import tsx scripts/bench/revocation-propagation.ts ${TRIALS}`,
    meta: { ...metaAtStart, loadAverageAtEnd: machineMeta().loadAverage },
    settings: {
      trials_per_kind: TRIALS,
      warmup_trials: warmup,
      kinds: modes,
      warm_introspections_on_b: WARM_INTROSPECTIONS,
      brokers: '2 x mandate serve, one Redis',
    },
    total_trials: total,
    inactive_on_first_request_on_b: firstInactive,
    all_kinds: {
      revoke_answer_to_inactive_on_b_ms: latencySummary(all.flatMap((s) => s.propagationMs)),
      revoke_on_a_ms: latencySummary(all.flatMap((s) => s.revokeMs)),
    },
    by_kind: byMode,
    mint_on_a_active_on_b: {
      trials: total,
      active_on_first_introspection: activeOnFirstPoll,
      mean_polls: total ? mintToActivePolls / total : null,
    },
    errors: problems.length,
    problems,
  };
  const files = await writeFigure('revocation-propagation', result);
  console.log(
    `revocation-propagation: ${total} trials (${TRIALS} per kind, after ${warmup} warm-up), two brokers on one Redis`,
  );
  for (const [mode, m] of Object.entries(byMode)) {
    const p = m.revoke_answer_to_inactive_on_b_ms;
    const r = m.revoke_on_a_ms;
    console.log(
      `  ${mode.padEnd(13)} inactive on B's first request: ${m.inactive_on_first_request_on_b}/${m.trials}; ` +
        `revoke answer -> B inactive p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms (revoke on A p50 ${r.p50}, p99 ${r.p99} ms)`,
    );
  }
  const p = result.all_kinds.revoke_answer_to_inactive_on_b_ms;
  console.log(
    `  all kinds     inactive on B's first request: ${firstInactive}/${total}; p50 ${p.p50} ms, p99 ${p.p99} ms; errors: ${problems.length}`,
  );
  for (const x of problems.slice(0, 5)) console.log(`  ${x}`);
  console.log(`revocation-propagation: wrote ${files.join(', ')}`);
  exitCode = firstInactive === total && problems.length === 0 ? 0 : 1;
} catch (err) {
  console.error(`revocation-propagation: ${(err as Error).stack ?? String(err)}`);
  for (const x of brokers)
    console.error(`--- ${x.server.name} log tail ---\n${x.server.logTail()}`);
} finally {
  for (const x of brokers) await x.server.stop();
  await redis.stop();
  await rm(workDir, { recursive: true, force: true });
}
process.exit(exitCode);
