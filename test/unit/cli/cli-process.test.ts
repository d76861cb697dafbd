// The `mandate` bin as a process: usage errors end with exit code 2 before anything is sent.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');

function mandate(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(
    join(ROOT, 'node_modules/.bin/node'),
    ['--import', 'tsx', 'src/cli.ts', ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', MANDATE_URL: 'http://127.0.0.1:9', ...env },
      timeout: 20_000,
    },
  );
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('mandate bin exit codes', () => {
  it('exits 2 on an unknown flag', () => {
    const r = mandate(['clients', 'ls', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--bogus'");
  });

  it('exits 2 on an unknown command and on a missing required option', () => {
    expect(mandate(['frobnicate']).code).toBe(2);
    expect(mandate(['revoke', '--grant', 'g-1'], { MANDATE_ADMIN_TOKEN: 't' }).code).toBe(2);
  });

  it('exits 2 when no admin token is configured', () => {
    const r = mandate(['grants', 'ls']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('MANDATE_ADMIN_TOKEN');
  });

  it('exits 2 on a process count outside 1 to 256', () => {
    const r = mandate(['serve', '--processes', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--processes');
  });

  it('serve --processes 2 exits 2 when its processes refuse the configuration (no restart loop)', () => {
    const r = mandate(['serve', '--processes', '2'], {
      MANDATE_CONFIG: join(ROOT, 'package.json'),
      MANDATE_PORT: 'not-a-port',
    });
    expect(r.code).toBe(2);
  });

  it('exits 0 for --help', () => {
    const r = mandate(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: mandate');
  });
});
