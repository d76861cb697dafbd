// The Python SDK's pytest suite (python/tests, against a real broker it starts), each pytest case reported as a vitest test.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const INSTALL_HINT =
  'the Python SDK tests need python3 (>= 3.11) with pytest, cryptography and PyJWT: apt-get install -y python3-pytest python3-cryptography python3-jwt';
const PYTHON_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
const PYTEST_ARGS = ['-m', 'pytest', 'python/tests', '-p', 'no:cacheprovider'];

/** The first interpreter that imports everything the suite needs (a pyenv shim may lack what apt installed). */
function findPython(): string | undefined {
  const candidates = [process.env.MANDATE_PYTHON, 'python3', '/usr/bin/python3'];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      execFileSync(
        candidate,
        ['-c', 'import sys, pytest, cryptography, jwt; assert sys.version_info >= (3, 11)'],
        { stdio: 'ignore', env: PYTHON_ENV },
      );
      return candidate;
    } catch {}
  }
  return undefined;
}

/** pytest's node ids (`python/tests/test_task.py::test_x[param]`), collected without running anything. */
function collectCases(python: string): string[] {
  const out = execFileSync(python, [...PYTEST_ARGS, '--collect-only', '-q'], {
    cwd: ROOT,
    env: PYTHON_ENV,
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.includes('::'));
}

interface CaseResult {
  readonly outcome: 'passed' | 'failed' | 'skipped';
  readonly detail: string;
}

const decode = (text: string) =>
  text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');

/** Reads pytest's JUnit XML into results keyed `test_file.py::name`, as collectCases' ids end. */
function parseJunit(xml: string): Map<string, CaseResult> {
  const results = new Map<string, CaseResult>();
  const testcase = /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const match of xml.matchAll(testcase)) {
    const attrs = match[1] ?? '';
    const body = match[2] ?? '';
    const attr = (name: string) =>
      decode(new RegExp(`\\b${name}="([^"]*)"`).exec(attrs)?.[1] ?? '');
    const file = `${attr('classname').split('.').pop()}.py`;
    const failed = /<(failure|error)\b/.test(body);
    const outcome = failed ? 'failed' : /<skipped\b/.test(body) ? 'skipped' : 'passed';
    results.set(`${file}::${attr('name')}`, { outcome, detail: decode(body).slice(0, 6000) });
  }
  return results;
}

const python = findPython();
const cases = python ? collectCases(python) : [];

describe('Python SDK (pytest against a real broker)', () => {
  let dir = '';
  let results = new Map<string, CaseResult>();
  let run: { code: number; output: string } = { code: -1, output: 'pytest did not run' };

  beforeAll(async () => {
    if (!python) return;
    dir = mkdtempSync(join(tmpdir(), 'mandate-pytest-'));
    const report = join(dir, 'junit.xml');
    try {
      const { stdout, stderr } = await promisify(execFile)(
        python,
        [...PYTEST_ARGS, '-q', `--junitxml=${report}`],
        { cwd: ROOT, env: PYTHON_ENV, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
      );
      run = { code: 0, output: stdout + stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
      run = {
        code: typeof e.code === 'number' ? e.code : -1,
        output: `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message,
      };
    }
    try {
      results = parseJunit(readFileSync(report, 'utf8'));
    } catch {}
  }, 300_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has python3 with pytest, cryptography and PyJWT, and collects the suite', () => {
    expect(python, INSTALL_HINT).toBeDefined();
    expect(cases.length, 'pytest collected no test from python/tests').toBeGreaterThan(10);
  });

  it.each(cases)('%s', (id) => {
    const key = id.split('/').pop() ?? id;
    const result = results.get(key);
    expect(result, `pytest reported nothing for ${id}:\n${run.output.slice(-4000)}`).toBeDefined();
    expect(result?.outcome, result?.detail).toBe('passed');
  });

  it('pytest exits 0', () => {
    expect(run.code, run.output.slice(-6000)).toBe(0);
  });
});
