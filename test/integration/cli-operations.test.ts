import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { POLICY_CONFIG } from '../support/action-time.ts';
import { CRM, createClient, requestToken } from '../support/broker.ts';
import { runMandate } from '../support/run-cli.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

let broker: TestBroker;

/** Runs one command line in-process with real fetch; returns its exit code and output. */
const mandate = (args: string[], env: Record<string, string> = {}) =>
  runMandate(broker.url, args, env);

beforeAll(async () => {
  broker = await startTestBroker({ name: 'cli-ops', config: `${POLICY_CONFIG}\n` });
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

describe('mandate approvals', () => {
  it('lists pending requests with what was requested and why, and shows one in full', async () => {
    const agent = await createClient(broker.url, {
      name: 'exporter',
      kind: 'agent',
      groups: ['exporters', 'writers'],
    });
    const asked = await requestToken(broker.url, agent, [
      {
        type: 'agent_task',
        task_id: 'T-cli',
        purpose: 'quarterly export',
        actions: ['read', 'export'],
        locations: [CRM],
        datatypes: ['customer_record'],
      },
    ]);
    const id = String(asked.body.auth_req_id);
    const ls = await mandate(['approvals', 'ls']);
    expect(ls.code, ls.err).toBe(0);
    const row = ls.out.split('\n').find((l) => l.startsWith(id)) ?? '';
    expect(row).toContain(`read,export@${CRM}`);
    expect(row).not.toMatch(/\s-\s+-$/);
    expect(row).toMatch(/export\S*$/);

    const show = await mandate(['approvals', 'show', id]);
    expect(show.code, show.err).toBe(0);
    expect(show.out).toMatch(new RegExp(`^id\\s+${id}$`, 'm'));
    expect(show.out).toMatch(/^status\s+pending$/m);
    expect(show.out).toMatch(/^expires_at\s+\d{4}-\d\d-\d\dT/m);
    expect(show.out).toContain(
      `task T-cli (quarterly export): read,export@${CRM} datatypes customer_record`,
    );
    expect(show.out).toMatch(new RegExp(`needs approval:\\n  export on ${CRM}: \\S+`));
    expect(show.out).toContain(`/console/approvals/${id}`);
    expect((await mandate(['approvals', 'show', 'ar_nope'])).code).toBe(1);
  });
});

describe('mandate audit export', () => {
  it('prints the records since a time as JSON lines, exactly as stored, oldest first', async () => {
    const since = new Date(Date.now() - 60_000).toISOString();
    const all = await mandate(['audit', 'export', '--since', since, '--format', 'jsonl']);
    expect(all.code, all.err).toBe(0);
    const lines = all.out.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const records = lines.map((l) => JSON.parse(l) as { at_ms: number; hash: string; seq: number });
    for (const r of records) expect(r.hash).toMatch(/^\S{43}$/);
    const times = records.map((r) => r.at_ms);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    // A later --since prints a suffix; --limit cuts it; a time in the future prints nothing.
    const later = await mandate([
      'audit',
      'export',
      '--since',
      String(records[1]?.at_ms),
      '--limit',
      '1',
    ]);
    expect(later.out.split('\n').filter(Boolean)).toHaveLength(1);
    const none = await mandate([
      'audit',
      'export',
      '--since',
      new Date(Date.now() + 3_600_000).toISOString(),
    ]);
    expect(none.code).toBe(0);
    expect(none.out).toBe('');
    expect((await mandate(['audit', 'export', '--since', 'yesterday-ish'])).code).toBe(2);
    expect((await mandate(['audit', 'export', '--since', '1h', '--format', 'csv'])).code).toBe(2);
  });
});
