import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMandate } from '../support/run-mandate.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;

/** Runs one command line in-process with real fetch; returns its exit code and output. */
const mandate = (args: string[], env: Record<string, string> = {}) =>
  runMandate(broker.url, args, env);

beforeAll(async () => {
  broker = await startTestBroker({ name: 'cli-ops' });
});

afterAll(async () => {
  await broker?.close();
});

describe('mandate tokens', () => {
  it('creates a token (printed once), lists it without the token, and revokes it', async () => {
    const created = await mandate([
      'tokens',
      'create',
      '--name',
      'night shift',
      '--roles',
      'approver,viewer',
      '--ttl',
      '3600',
    ]);
    expect(created.code, created.err).toBe(0);
    const token = /^token\s+(mat_\S+)$/m.exec(created.out)?.[1] ?? '';
    const id = /^id\s+(op_\S+)$/m.exec(created.out)?.[1] ?? '';
    expect(token).not.toBe('');
    expect(created.out).toMatch(/roles\s+\["approver","viewer"\]/);

    // The new token works as the CLI's credential, within its roles.
    const asApprover = await mandate(['approvals', 'ls'], { MANDATE_ADMIN_TOKEN: token });
    expect(asApprover.code, asApprover.err).toBe(0);
    const refused = await mandate(['tokens', 'ls'], { MANDATE_ADMIN_TOKEN: token });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/403|operators:read/);

    const listed = await mandate(['tokens', 'ls']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^ID\s+NAME\s+ROLES\s+CREATED\s+EXPIRES\s+CREATED_BY$/m);
    expect(listed.out).toContain(id);
    expect(listed.out).toContain('night shift');
    expect(listed.out).toMatch(/bootstrap\s+bootstrap\s+admin/);
    expect(listed.out).not.toContain(token);

    const json = await mandate(['--json', 'tokens', 'ls']);
    const rows = JSON.parse(json.out).tokens as Array<{ id: string }>;
    expect(rows.map((r) => r.id)).toContain(id);

    const revoked = await mandate(['tokens', 'revoke', id]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toBe(`operator token ${id} revoked`);
    const after = await mandate(['approvals', 'ls'], { MANDATE_ADMIN_TOKEN: token });
    expect(after.code).toBe(1);
    expect((await mandate(['tokens', 'revoke', id])).code).toBe(1);
  });

  it('refuses an unknown role as a usage error', async () => {
    const r = await mandate(['tokens', 'create', '--name', 'x', '--roles', 'root']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown role root/);
  });
});
