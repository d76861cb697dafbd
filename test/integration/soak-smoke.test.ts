// The soak script end to end for 10 seconds: its own Redis, API and worker processes, invariants held, exit 0.
import { describe, expect, it } from 'vitest';
import { runScript } from '../support/run-script.ts';

describe('soak smoke', () => {
  it('SOAK_SECONDS=10 exits 0 with every invariant held', async () => {
    const { code, out } = await runScript('scripts/soak.ts', {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SOAK_SECONDS: '10',
      SOAK_LOOPS: '3',
    });
    expect(code, out.slice(-4000)).toBe(0);
    expect(out).toMatch(/invariants: all held/);
    expect(out).toMatch(/calls\/s/);
    expect(out).toMatch(/"ok":true/);
    // The load did something of each kind.
    for (const op of ['mint', 'refresh', 'introspect', 'evaluate', 'revoke', 'signal'])
      expect(out).toMatch(new RegExp(`^\\s+${op}\\s+[1-9]\\d* calls`, 'm'));
  }, 60_000);
});
