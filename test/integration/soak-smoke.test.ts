// The soak script end to end for 10 seconds: its own Redis, API and worker processes, invariants held, exit 0.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('soak smoke', () => {
  it('SOAK_SECONDS=10 exits 0 with every invariant held', async () => {
    const child = spawn('node_modules/.bin/node', ['--import', 'tsx', 'scripts/soak.ts'], {
      cwd: process.cwd(),
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        SOAK_SECONDS: '10',
        SOAK_LOOPS: '3',
      },
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
    const code = await new Promise<number | null>((ok) => child.once('exit', (c) => ok(c)));
    clearTimeout(timer);
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/invariants: all held/);
    expect(out).toMatch(/calls\/s/);
    expect(out).toMatch(/"ok":true/);
    // The load did something of each kind.
    for (const op of ['mint', 'refresh', 'introspect', 'evaluate', 'revoke', 'signal'])
      expect(out).toMatch(new RegExp(`^\\s+${op}\\s+[1-9]\\d* calls`, 'm'));
  }, 60_000);
});
