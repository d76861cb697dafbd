// Canonical JSON of decision records against plain JSON.stringify of the same value, side by side in one process.
//
// Run (no npm script needed):
//   node_modules/.bin/node --import tsx scripts/bench/canonical-json.ts
// Every decision record is serialised canonically before it is hashed, so this is on the path of
// every mint, refresh and evaluation. Records come in three shapes: an evaluation's (small, built
// in key order by the log), a mint's (about 1.8 KB, with authorization details in schema order),
// and the same mint record already in key order. The ratio to JSON.stringify, measured in the
// same run, is the figure to compare across machines.
import { canonicalJson } from '../../src/domain/decision-record.ts';
import { median } from './drive-load.ts';

const detail = (i: number) => ({
  type: 'agent_task',
  task_id: 't-123',
  purpose: 'sync crm records',
  actions: ['read', 'write'],
  locations: [`https://crm.example.com/records/${i}`],
  datatypes: ['pii'],
});

const head = {
  at_ms: 1_764_000_000_000,
  chain: 'c-abcdefghijkl',
  client_id: 'bench-agent',
  grant_id: 'g-abcdefghijklmnop',
  id: 'd-lx8s9d-abcdefghijk',
};
const tail = {
  policy_version: 1,
  prev: 'hQ2x7Jm0b4y3mQK9xv8ZzPz7c1u4Yk6dQw0e8r2t5yU',
  reasons: ['permit', 'p1'],
  seq: 12_345,
  task_id: 't-123',
};

const evaluation = {
  ...head,
  inputs: {
    action: 'read',
    caller: 'bench-crm',
    context: {},
    resource: 'https://crm.example.com/records/1',
    subject: 'bench-agent',
    usage: { calls_last_minute: 1234, denied_last_hour: 0, new_action: false },
  },
  kind: 'evaluation',
  outcome: 'permit',
  ...tail,
};

const mint = {
  ...head,
  inputs: {
    request: {
      grant_type: 'client_credentials',
      authorization_details: [detail(1), detail(2)],
      resource: ['https://crm.example.com'],
    },
    context: {
      ip: '10.0.0.1',
      risk: 0,
      signals: [],
      approved: false,
      delegated: false,
      sender_constrained: false,
      groups: ['agents'],
      now: 1_764_000_000,
    },
    principal: { id: 'bench-agent', groups: ['agents'], attributes: { team: 'sales', tier: 2 } },
    pairs: [1, 2, 3, 4].map((i) => ({
      action: 'read',
      location: `https://crm.example.com/records/${i}`,
      effect: 'permit',
      reasons: ['p1'],
    })),
    granted: [detail(1), detail(2)],
    jti: 'g-abcdefghijklmnop.1',
    grant_expires_at: 1_764_003_600,
  },
  kind: 'mint',
  outcome: 'permit',
  ...tail,
};

const ROUNDS = 5;
const N = 50_000;

/** Median µs per call over ROUNDS rounds of N calls, after a warm-up. */
function measure(run: () => unknown): number {
  for (let i = 0; i < N; i++) run();
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < N; i++) run();
    rounds.push(Number(process.hrtime.bigint() - start) / N / 1000);
  }
  return median(rounds);
}

const cases: [string, unknown][] = [
  ['evaluation record', evaluation],
  ['mint record', mint],
  ['mint record, already in key order', JSON.parse(canonicalJson(mint))],
];
console.log('record                             bytes  canonical µs  stringify µs  ratio');
for (const [name, value] of cases) {
  const canonical = measure(() => canonicalJson(value));
  const plain = measure(() => JSON.stringify(value));
  const bytes = canonicalJson(value).length;
  console.log(
    `${name.padEnd(34)} ${String(bytes).padStart(5)}  ${canonical.toFixed(2).padStart(12)}  ${plain.toFixed(2).padStart(12)}  ${(canonical / plain).toFixed(2)}x`,
  );
}
