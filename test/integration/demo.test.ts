// `npm run demo` in self-starting mode tells the whole story and exits 0.
import { describe, expect, it } from 'vitest';
import { envWithoutBroker, runScript } from '../support/run-script.ts';

describe('npm run demo', () => {
  it('gets a token, reads, is revoked on a prompt change, is refused, and explains why', async () => {
    const { code, out } = await runScript('scripts/demo.ts', envWithoutBroker());
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
