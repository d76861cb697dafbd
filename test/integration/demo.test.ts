// `npm run demo` in self-starting mode tells the whole story and exits 0.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function runDemo(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const { MANDATE_URL: _u, MANDATE_ADMIN_TOKEN: _t, MANDATE_ISSUER: _i, ...env } = process.env;
    const child = spawn('node_modules/.bin/node', ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: process.cwd(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 55_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

describe('npm run demo', () => {
  it('gets a token, reads, is revoked on a prompt change, is refused, and explains why', async () => {
    const { code, out } = await runDemo();
    expect(out).toMatch(
      /✓ agent \S+ got a read-only token for task T-demo-\S+ \(grant g_\S+, actions: read\)/,
    );
    expect(out).toMatch(/✓ read through the sample resource: GET \/records\/customers -> 200/);
    expect(out).toMatch(
      /✓ the task's prompt changes to "export": signal prompt_changed sent -> 202/,
    );
    expect(out).toMatch(/✓ the grant is revoked/);
    expect(out).toMatch(/✓ the next call is refused: GET \/records\/customers -> 40[13]/);
    expect(out).toMatch(/reevaluation\s+revoke\s+action_class_changed/);
    expect(out).not.toContain('✗');
    expect(code, out).toBe(0);
  }, 60_000);
});
