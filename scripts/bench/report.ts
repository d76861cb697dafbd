// The benchmark's output: the results table, the headline ratios, and the JSON files in bench-results/.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { median, type RoundResult } from './drive-load.ts';

/** Medians over the rounds of one scenario at one connection count. */
export interface ScenarioResult extends RoundResult {
  readonly id: string;
  readonly connections: number;
  readonly rounds: RoundResult[];
}

export interface Ratio {
  readonly name: string;
  readonly connections: number;
  /** Numerator req/s over denominator req/s (median of the per-round ratios); null when either side was not measured. */
  readonly value: number | null;
  /** Numerator server CPU per request over the denominator's: steadier than req/s on a shared machine. */
  readonly cpuPerRequest: number | null;
  readonly numerator: string;
  readonly denominator: string;
}

export interface BenchReport {
  readonly meta: Record<string, unknown>;
  readonly results: ScenarioResult[];
  /** Scenarios that could not run (endpoint missing, server not starting), with why. */
  readonly unavailable: { id: string; reason: string }[];
  readonly ratios: Ratio[];
}

/** The headline comparisons: [name, numerator scenario, denominator scenario]. */
const RATIOS: [string, string, string][] = [
  ['introspection-mix mandate/peer', 'mandate.introspection-mix', 'peer.introspection'],
  ['introspection-mix mandate/floor', 'mandate.introspection-mix', 'floor.introspection'],
  [
    'mandate evaluation-mix/introspection-mix',
    'mandate.evaluation-mix',
    'mandate.introspection-mix',
  ],
  ['token mandate/peer', 'mandate.token', 'peer.token'],
  ['token mandate/floor', 'mandate.token', 'floor.token'],
  ['token mandate/ceiling', 'mandate.token', 'ceiling.hello'],
  ['introspection (hot token) mandate/peer', 'mandate.introspection', 'peer.introspection'],
  ['introspection (hot token) mandate/floor', 'mandate.introspection', 'floor.introspection'],
  ['introspection mandate/ceiling', 'mandate.introspection', 'ceiling.hello'],
  ['mandate evaluation/introspection', 'mandate.evaluation', 'mandate.introspection'],
  ['token dpop/bearer', 'mandate.token-dpop', 'mandate.token'],
  ['introspection dpop/bearer', 'mandate.introspection-dpop', 'mandate.introspection'],
  ['evaluation dpop/bearer', 'mandate.evaluation-dpop', 'mandate.evaluation'],
];

/** With BENCH_BASELINE: this build against the other checkout, scenario by scenario. */
const BASELINE_RATIOS: [string, string, string][] = [
  'token',
  'refresh',
  'introspection',
  'evaluation',
  'revocation',
  'introspection-mix',
  'evaluation-mix',
  'mixed',
].map((kind) => [`${kind} mandate/baseline`, `mandate.${kind}`, `baseline.${kind}`]);

/** Works out every headline ratio at every connection count measured. */
export function computeRatios(results: readonly ScenarioResult[]): Ratio[] {
  const levels = [...new Set(results.map((r) => r.connections))];
  const find = (id: string, c: number) => results.find((r) => r.id === id && r.connections === c);
  const withBaseline = results.some((r) => r.id.startsWith('baseline.'));
  return levels.flatMap((connections) =>
    [...RATIOS, ...(withBaseline ? BASELINE_RATIOS : [])].map(([name, numerator, denominator]) => {
      const top = find(numerator, connections);
      const bottom = find(denominator, connections);
      const value = top && bottom ? pairedRatio(top, bottom, (r) => r.reqPerSec) : null;
      const cpuPerRequest = top && bottom ? pairedRatio(top, bottom, (r) => r.cpuUsPerReq) : null;
      return { name, connections, value, cpuPerRequest, numerator, denominator };
    }),
  );
}

/**
 * The median of the per-round ratios: rounds are interleaved, so round i of both sides ran minutes
 * apart at most, under the same conditions. Falls back to the ratio of medians if the counts differ.
 */
function pairedRatio(
  top: ScenarioResult,
  bottom: ScenarioResult,
  pick: (r: RoundResult) => number,
): number | null {
  if (top.rounds.length === bottom.rounds.length && top.rounds.length > 0) {
    const ratios = top.rounds
      .map((r, i) => pick(r) / pick(bottom.rounds[i] as RoundResult))
      .filter(Number.isFinite);
    if (ratios.length === top.rounds.length) return median(ratios);
  }
  return pick(bottom) > 0 ? pick(top) / pick(bottom) : null;
}

/** The compact text tables printed at the end of a run. */
export function formatReport(report: BenchReport): string {
  const rows = report.results.map((r) => [
    r.id,
    String(r.connections),
    r.reqPerSec.toFixed(0),
    r.p50Ms.toFixed(1),
    r.p99Ms.toFixed(1),
    String(r.errors),
    String(r.non2xx),
    String(r.mismatches),
    r.cpuUsPerReq.toFixed(0),
    r.redisCpuUsPerReq.toFixed(0),
  ]);
  const lines = [
    table(
      [
        'scenario',
        'conns',
        'req/s',
        'p50 ms',
        'p99 ms',
        'errors',
        'non-2xx',
        'bad body',
        'cpu µs/req',
        'redis µs/req',
      ],
      rows,
    ),
  ];
  for (const u of report.unavailable)
    lines.push(`${u.id}: not available (${u.reason.split('\n')[0]})`);
  const find = (id: string, c: number) =>
    report.results.find((r) => r.id === id && r.connections === c);
  const side = (r: ScenarioResult | undefined) =>
    r
      ? `${r.reqPerSec.toFixed(0)} req/s p50 ${r.p50Ms.toFixed(1)} p99 ${r.p99Ms.toFixed(1)} err ${r.errors + r.non2xx}`
      : 'n/a';
  const ratioRows = report.ratios.map((q) => [
    q.name,
    String(q.connections),
    q.value === null ? 'n/a' : `${q.value.toFixed(2)}x`,
    q.cpuPerRequest === null ? 'n/a' : `${q.cpuPerRequest.toFixed(2)}x`,
    side(find(q.numerator, q.connections)),
    side(find(q.denominator, q.connections)),
  ]);
  lines.push(
    '',
    table(['ratio', 'conns', 'req/s', 'cpu/req', 'numerator', 'denominator'], ratioRows),
  );
  return lines.join('\n');
}

/** Writes bench-results/<timestamp>.json and bench-results/latest.json; returns their paths. */
export async function writeReport(report: BenchReport, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const files = [join(outDir, `${stamp}.json`), join(outDir, 'latest.json')];
  for (const file of files) await writeFile(file, json);
  return files;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
