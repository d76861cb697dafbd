// Drift detectors and `reevaluate()`: pure rules, fixed clock values, and the real default Cedar policy set.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Client } from '../../src/domain/client.ts';
import type { PairDecision } from '../../src/domain/decision.ts';
import {
  type AgentNow,
  detectHardDrift,
  groupsChanged,
  judgePolicy,
  latestIp,
  latestRisk,
  type Signal,
} from '../../src/domain/drift.ts';
import type { Grant } from '../../src/domain/grant.ts';
import { type AgentTask, pairsOf } from '../../src/domain/intent.ts';
import { type CompiledPolicySet, compilePolicySet } from '../../src/policy/cedar-policy-set.ts';
import { reevaluate } from '../../src/services/reevaluate-grants.ts';

// Wednesday 2025-01-15 12:00:00 UTC: inside the default deploy change window.
const NOW = 1_736_942_400;
const CRM = 'https://crm.example.com';
const APPROVED_IP = '203.0.113.9';

function entry(actions: string[], locations: string[] = [CRM]): AgentTask {
  return { type: 'agent_task', task_id: 'T-1', purpose: 'drift test', actions, locations };
}

function grant(overrides: Partial<Grant> = {}): Grant {
  const granted = overrides.granted ?? [entry(['read', 'write'])];
  return {
    id: 'g-1',
    client_id: 'agent-1',
    task_id: 'T-1',
    status: 'active',
    requested: granted,
    granted,
    context: {
      ip: APPROVED_IP,
      risk: 0,
      signals: [],
      approved: false,
      delegated: false,
      sender_constrained: false,
      groups: ['writers'],
    },
    policy_version: 1,
    created_at: NOW - 60,
    expires_at: NOW + 600,
    ...overrides,
  };
}

const agentNow: AgentNow = { disabled: false, groups: ['writers'] };

function client(overrides: Partial<Client> = {}): Client {
  return {
    client_id: 'agent-1',
    name: 'agent',
    kind: 'agent',
    groups: ['writers'],
    attributes: {},
    resources: [],
    token_endpoint_auth_method: 'client_secret_basic',
    disabled: false,
    created_at: NOW - 3600,
    updated_at: NOW - 3600,
    ...overrides,
  };
}

const signal = (type: string, extra: Partial<Signal> = {}): Signal => ({
  type,
  at: NOW - 1,
  ...extra,
});

describe('detectHardDrift', () => {
  it('keeps a live grant of an enabled agent with no signals', () => {
    expect(detectHardDrift(grant(), agentNow, [], NOW)).toBeUndefined();
  });

  it('deadline_passed at and after expires_at, not a second before', () => {
    expect(detectHardDrift(grant({ expires_at: NOW }), agentNow, [], NOW)).toBe('deadline_passed');
    expect(detectHardDrift(grant({ expires_at: NOW - 5 }), agentNow, [], NOW)).toBe(
      'deadline_passed',
    );
    expect(detectHardDrift(grant({ expires_at: NOW + 1 }), agentNow, [], NOW)).toBeUndefined();
  });

  it('task_complete on a task_complete signal', () => {
    expect(detectHardDrift(grant(), agentNow, [signal('task_complete')], NOW)).toBe(
      'task_complete',
    );
  });

  it('agent_deleted when the agent is gone', () => {
    expect(detectHardDrift(grant(), undefined, [], NOW)).toBe('agent_deleted');
  });

  it('agent_disabled when the agent is disabled', () => {
    expect(detectHardDrift(grant(), { ...agentNow, disabled: true }, [], NOW)).toBe(
      'agent_disabled',
    );
  });

  it('ip_changed only when the signalled ip differs from the approved one', () => {
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('ip_changed', { context: { ip: '198.51.100.7' } })],
        NOW,
      ),
    ).toBe('ip_changed');
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('ip_changed', { context: { ip: APPROVED_IP } })],
        NOW,
      ),
    ).toBeUndefined();
    expect(detectHardDrift(grant(), agentNow, [signal('ip_changed')], NOW)).toBeUndefined();
  });

  it('workload_mismatch on a workload_mismatch signal', () => {
    expect(detectHardDrift(grant(), agentNow, [signal('workload_mismatch')], NOW)).toBe(
      'workload_mismatch',
    );
  });

  it('action_class_changed when a prompt change asks for an action outside the grant, not for a held one', () => {
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('prompt_changed', { context: { actions: ['export'] } })],
        NOW,
      ),
    ).toBe('action_class_changed');
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('prompt_changed', { context: { action_class: 'delete' } })],
        NOW,
      ),
    ).toBe('action_class_changed');
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('prompt_changed', { context: { actions: ['read'] } })],
        NOW,
      ),
    ).toBeUndefined();
    expect(
      detectHardDrift(
        grant(),
        agentNow,
        [signal('prompt_changed', { context: { actions: ['read', 'write'] } })],
        NOW,
      ),
    ).toBeUndefined();
  });

  it('puts the deadline before every other reason, and the agent before signals', () => {
    const all = [signal('task_complete'), signal('workload_mismatch')];
    expect(detectHardDrift(grant({ expires_at: NOW }), undefined, all, NOW)).toBe(
      'deadline_passed',
    );
    expect(
      detectHardDrift(grant(), { ...agentNow, disabled: true }, [signal('workload_mismatch')], NOW),
    ).toBe('agent_disabled');
  });
});

describe('groupsChanged', () => {
  it('is false for the same groups in any order, true for an added or removed group', () => {
    const g = grant({ context: { ...grant().context, groups: ['writers', 'readers'] } });
    expect(groupsChanged(g, { disabled: false, groups: ['readers', 'writers'] })).toBe(false);
    expect(groupsChanged(g, { disabled: false, groups: ['writers'] })).toBe(true);
    expect(groupsChanged(g, { disabled: false, groups: ['writers', 'readers', 'deployers'] })).toBe(
      true,
    );
    expect(groupsChanged(g, { disabled: false, groups: ['writers', 'deployers'] })).toBe(true);
  });
});

describe('latestIp / latestRisk', () => {
  it('latestIp is the last signalled ip, else the approved one', () => {
    expect(latestIp(grant(), [])).toBe(APPROVED_IP);
    expect(
      latestIp(grant(), [
        signal('x', { context: { ip: '198.51.100.1' } }),
        signal('y', { context: { ip: '198.51.100.2' } }),
        signal('z'),
      ]),
    ).toBe('198.51.100.2');
  });

  it('latestRisk is the highest of the approved and signalled risks', () => {
    expect(latestRisk(grant(), [])).toBe(0);
    expect(
      latestRisk(grant({ context: { ...grant().context, risk: 30 } }), [signal('a', { risk: 10 })]),
    ).toBe(30);
    expect(latestRisk(grant(), [signal('a', { risk: 70 }), signal('b', { risk: 20 })])).toBe(70);
  });
});

describe('judgePolicy', () => {
  const granted = [entry(['read', 'write'])];
  const [readPair, writePair] = pairsOf(granted) as [PairDecision['pair'], PairDecision['pair']];
  const d = (
    pair: PairDecision['pair'],
    effect: PairDecision['effect'],
    reasons: string[] = [],
  ): PairDecision => ({ pair, effect, reasons });

  it('keeps when every pair is permitted', () => {
    expect(judgePolicy(granted, [d(readPair, 'permit'), d(writePair, 'permit')])).toEqual({
      outcome: 'keep',
      reasons: [],
    });
    expect(
      judgePolicy(granted, [d(readPair, 'permit'), d(writePair, 'permit')], ['groups_changed'])
        .reasons,
    ).toEqual(['groups_changed']);
  });

  it('narrows to the permitted pairs, naming the denying policies', () => {
    const r = judgePolicy(granted, [d(readPair, 'permit'), d(writePair, 'deny', ['no-write'])]);
    expect(r.outcome).toBe('narrow');
    if (r.outcome !== 'narrow') return;
    expect(r.granted).toEqual([entry(['read'])]);
    expect(r.reasons).toEqual(['policy_narrowed', 'no-write']);
  });

  it('suspends when only approval forbids stand in the way', () => {
    const r = judgePolicy(granted, [
      d(readPair, 'approval', ['needs-ok']),
      d(writePair, 'approval', ['needs-ok']),
    ]);
    expect(r.outcome).toBe('suspend');
    expect(r.reasons).toEqual(['approval_required', 'needs-ok']);
  });

  it('narrows to the permitted pairs when some need approval and others are permitted', () => {
    const r = judgePolicy(granted, [d(readPair, 'permit'), d(writePair, 'approval', ['needs-ok'])]);
    expect(r.outcome).toBe('narrow');
    if (r.outcome === 'narrow') expect(r.granted).toEqual([entry(['read'])]);
  });

  it('revokes when nothing is permitted', () => {
    const r = judgePolicy(
      granted,
      [d(readPair, 'deny', ['a']), d(writePair, 'deny', ['b'])],
      ['groups_changed'],
    );
    expect(r).toEqual({
      outcome: 'revoke',
      reasons: ['policy_denied', 'groups_changed', 'a', 'b'],
    });
  });
});

describe('reevaluate with the default policy set', () => {
  const text = readFileSync('config/policies/default.cedar', 'utf8');
  const schema = readFileSync('config/schema.cedarschema', 'utf8');
  const compiled = compilePolicySet(text, schema, 7);
  if (!compiled.ok)
    throw new Error(`default policy does not compile: ${JSON.stringify(compiled.problems)}`);
  const policy: CompiledPolicySet = compiled.set;

  it('keeps a writer read+write grant with nothing new', () => {
    expect(reevaluate(grant(), client(), [], policy, NOW)).toEqual({
      outcome: 'keep',
      reasons: [],
    });
  });

  it('revokes at risk 90 with high-risk among the reasons', () => {
    const r = reevaluate(grant(), client(), [signal('risk', { risk: 90 })], policy, NOW);
    expect(r.outcome).toBe('revoke');
    expect(r.reasons).toContain('policy_denied');
    expect(r.reasons).toContain('high-risk');
  });

  it('keeps at risk 79, just below the high-risk threshold', () => {
    expect(reevaluate(grant(), client(), [signal('risk', { risk: 79 })], policy, NOW).outcome).toBe(
      'keep',
    );
  });

  it('narrows a read+write grant to read when the agent left the writers group', () => {
    const r = reevaluate(grant(), client({ groups: [] }), [], policy, NOW);
    expect(r.outcome).toBe('narrow');
    if (r.outcome !== 'narrow') return;
    expect(r.granted).toEqual([entry(['read'])]);
    expect(r.reasons).toContain('groups_changed');
    expect(r.reasons).toContain('policy_narrowed');
  });

  it('revokes on a credential_compromised signal (policy reads context.signals)', () => {
    const r = reevaluate(grant(), client(), [signal('credential_compromised')], policy, NOW);
    expect(r.outcome).toBe('revoke');
    expect(r.reasons).toContain('credential-compromised');
  });

  it('suspends an unapproved export grant of an exporter', () => {
    const g = grant({
      granted: [entry(['export'])],
      context: { ...grant().context, groups: ['exporters'] },
    });
    const r = reevaluate(g, client({ groups: ['exporters'] }), [], policy, NOW);
    expect(r.outcome).toBe('suspend');
    expect(r.reasons).toContain('export-needs-approval');
    const approved = grant({
      granted: [entry(['export'])],
      context: { ...grant().context, groups: ['exporters'], approved: true },
    });
    expect(reevaluate(approved, client({ groups: ['exporters'] }), [], policy, NOW).outcome).toBe(
      'keep',
    );
  });

  it('revokes a deploy grant outside the change window (Saturday) and keeps it inside', () => {
    const g = grant({
      granted: [entry(['deploy'])],
      context: { ...grant().context, groups: ['deployers'] },
    });
    const deployer = client({ groups: ['deployers'] });
    expect(reevaluate(g, deployer, [], policy, NOW).outcome).toBe('keep');
    const saturday = NOW + 3 * 86_400;
    const r = reevaluate({ ...g, expires_at: saturday + 600 }, deployer, [], policy, saturday);
    expect(r.outcome).toBe('revoke');
    expect(r.reasons).toContain('deploy-change-window');
  });

  it('hard drift wins without asking policy', () => {
    expect(reevaluate(grant(), undefined, [], policy, NOW)).toEqual({
      outcome: 'revoke',
      reasons: ['agent_deleted'],
    });
    expect(
      reevaluate(
        grant(),
        client(),
        [signal('prompt_changed', { context: { actions: ['export'] } })],
        policy,
        NOW,
      ),
    ).toEqual({
      outcome: 'revoke',
      reasons: ['action_class_changed'],
    });
  });
});

describe('behaviour seen at action time', () => {
  it('a step out of the declared order or a never-used action outside the grant is drift', async () => {
    const { detectHardDrift, BEHAVIOUR_SIGNALS } = await import('../../src/domain/drift.ts');
    const grant = {
      id: 'g_1',
      client_id: 'a1',
      task_id: 'T-1',
      status: 'active' as const,
      requested: [],
      granted: [],
      context: {
        risk: 0,
        signals: [],
        approved: false,
        delegated: false,
        sender_constrained: false,
        groups: [],
      },
      policy_version: 1,
      created_at: 1_700_000_000,
      expires_at: 1_700_003_600,
    };
    const agent = { disabled: false, groups: [] };
    const at = 1_700_000_100;
    expect(
      detectHardDrift(grant, agent, [{ type: BEHAVIOUR_SIGNALS.stepOutOfOrder, at }], at),
    ).toBe('step_out_of_order');
    expect(
      detectHardDrift(grant, agent, [{ type: BEHAVIOUR_SIGNALS.neverUsedAction, at }], at),
    ).toBe('never_used_action');
    expect(detectHardDrift(grant, agent, [{ type: 'something_else', at }], at)).toBeUndefined();
  });
});
