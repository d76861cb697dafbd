// Runs `npm run bench` in smoke mode on the reference servers and checks every scenario ran without errors.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const EXPECTED = [
  'ceiling.hello',
  'floor.token',
  'floor.introspection',
  'peer.token',
  'peer.introspection',
];

interface Result {
  id: string;
  reqPerSec: number;
  errors: number;
  non2xx: number;
  mismatches: number;
}

describe('bench harness (smoke)', () => {
  let outDir = '';
  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('measures the ceiling, floor and peer scenarios with no errors', async () => {
    outDir = await mkdtemp(join(tmpdir(), 'mandate-bench-smoke-'));
    await run(process.execPath, ['--import', 'tsx', 'scripts/bench/run.ts'], {
      cwd: REPO,
      env: {
        ...process.env,
        BENCH_SMOKE: '1',
        BENCH_ONLY: 'ceiling,floor,peer',
        BENCH_OUT_DIR: outDir,
      },
      timeout: 85_000,
    });
    const report = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as {
      results: Result[];
      unavailable: unknown[];
    };
    expect(report.results.map((r) => r.id).sort()).toEqual([...EXPECTED].sort());
    expect(report.unavailable).toEqual([]);
    for (const result of report.results) {
      expect({
        id: result.id,
        errors: result.errors,
        non2xx: result.non2xx,
        mismatches: result.mismatches,
      }).toEqual({
        id: result.id,
        errors: 0,
        non2xx: 0,
        mismatches: 0,
      });
      expect(result.reqPerSec, result.id).toBeGreaterThan(0);
    }
  }, 90_000);
});
