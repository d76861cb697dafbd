// The Cedar adapter with the default policy set: what it permits, refuses and sends to a human.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Pair } from '../../src/domain/intent.ts';
import { calendarOf, type PolicyFacts } from '../../src/domain/policy-facts.ts';
import { type CompiledPolicySet, compilePolicySet } from '../../src/policy/cedar-policy-set.ts';

const SCHEMA = readFileSync(new URL('../../config/schema.cedarschema', import.meta.url), 'utf8');
const DEFAULT_POLICIES = readFileSync(
  new URL('../../config/policies/default.cedar', import.meta.url),
  'utf8',
);
const CRM = 'https://crm.example.com';

// Calendar values computed by hand (2024-01-01 was a Monday, 1704067200 its midnight UTC).
const WED_10_00 = 1_704_276_000;
const WED_05_59 = 1_704_261_540;
const WED_18_00 = 1_704_304_800;
const WED_20_00 = 1_704_312_000;
const SAT_10_00 = 1_704_535_200;
const MON_06_00 = 1_704_088_800;
const FRI_17_59 = 1_704_477_540;

function compileOrThrow(text: string): CompiledPolicySet {
  const result = compilePolicySet(text, SCHEMA, 1);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.set;
}

const policies = compileOrThrow(DEFAULT_POLICIES);

const facts = (over: Partial<PolicyFacts> = {}, groups: string[] = []): PolicyFacts => ({
  agent: { id: 'agent-1', groups, attributes: { team: 'sales' } },
  task: { id: 'T-1', purpose: 'weekly CRM summary' },
  datatypes: ['customer_record'],
  nowSec: WED_10_00,
  ip: '203.0.113.9',
  risk: 10,
  usage: { calls_last_minute: 3, denied_last_hour: 0, used_actions: new Set(['read']) },
  approved: false,
  delegated: false,
  sender_constrained: false,
  signals: [],
  ...over,
});

const pair = (action: string, location = CRM): Pair => ({ entry: 0, action, location });

function decideOne(
  action: string,
  over: Partial<PolicyFacts> = {},
  groups: string[] = [],
  set = policies,
) {
  const [decision] = set.decide(facts(over, groups), [pair(action)]);
  if (!decision) throw new Error('no decision');
  return decision;
}

describe('the fixed clock values', () => {
  it('fall on the weekdays and hours the tests assume', () => {
    expect(calendarOf(WED_10_00)).toEqual({ weekday: 3, hour: 10 });
    expect(calendarOf(WED_05_59)).toEqual({ weekday: 3, hour: 5 });
    expect(calendarOf(WED_18_00)).toEqual({ weekday: 3, hour: 18 });
    expect(calendarOf(SAT_10_00)).toEqual({ weekday: 6, hour: 10 });
    expect(calendarOf(MON_06_00)).toEqual({ weekday: 1, hour: 6 });
    expect(calendarOf(FRI_17_59)).toEqual({ weekday: 5, hour: 17 });
  });
});

describe('default policy set', () => {
  it('compiles with every policy named by its @id', () => {
    expect(policies.version).toBe(1);
    expect(policies.ids).toContain('read-style-actions');
    expect(policies.ids).toContain('export-needs-approval');
    expect(new Set(policies.ids).size).toBe(policies.ids.length);
  });

  it('permits read-style actions to any agent', () => {
    for (const action of ['read', 'search', 'list']) {
      expect(decideOne(action)).toMatchObject({
        effect: 'permit',
        reasons: ['read-style-actions'],
      });
    }
  });

  it('decides each pair in order with the pair echoed back', () => {
    const pairs = [pair('read'), pair('write'), pair('search', 'https://mail.example.com')];
    const decisions = policies.decide(facts(), pairs);
    expect(decisions.map((d) => d.pair)).toEqual(pairs);
    expect(decisions.map((d) => d.effect)).toEqual(['permit', 'deny', 'permit']);
  });

  it('permits write only to members of writers', () => {
    expect(decideOne('write')).toMatchObject({ effect: 'deny', reasons: ['no-permit'] });
    expect(decideOne('write', {}, ['readers'])).toMatchObject({ effect: 'deny' });
    expect(decideOne('write', {}, ['writers'])).toMatchObject({
      effect: 'permit',
      reasons: ['writers-may-change'],
    });
    expect(decideOne('delete', {}, ['writers'])).toMatchObject({ effect: 'permit' });
  });

  it('denies an action nobody is permitted', () => {
    expect(decideOne('execute', {}, ['writers', 'exporters'])).toMatchObject({
      effect: 'deny',
      reasons: ['no-permit'],
    });
  });

  it('sends export by an exporter to approval, and permits it once approved', () => {
    expect(decideOne('export', {}, ['exporters'])).toMatchObject({
      effect: 'approval',
      reasons: ['export-needs-approval'],
    });
    expect(decideOne('export', { approved: true }, ['exporters'])).toMatchObject({
      effect: 'permit',
      reasons: ['exporters-may-export'],
    });
  });

  it('denies export by an agent outside exporters, approved or not', () => {
    expect(decideOne('export')).toMatchObject({ effect: 'deny' });
    expect(decideOne('export', { approved: true })).toMatchObject({
      effect: 'deny',
      reasons: ['no-permit'],
    });
  });

  it('denies, not approval, when a plain forbid joins the approval forbid', () => {
    expect(decideOne('export', { risk: 90 }, ['exporters'])).toMatchObject({ effect: 'deny' });
    expect(decideOne('export', { risk: 90 }, ['exporters']).reasons).toContain('high-risk');
  });

  it('permits a deploy inside the change window, edges included', () => {
    for (const nowSec of [WED_10_00, MON_06_00, FRI_17_59]) {
      expect(decideOne('deploy', { nowSec }, ['deployers']), String(nowSec)).toMatchObject({
        effect: 'permit',
        reasons: ['deployers-may-deploy'],
      });
    }
  });

  it('denies a deploy outside the change window with reason deploy-change-window', () => {
    for (const nowSec of [SAT_10_00, WED_20_00, WED_05_59, WED_18_00]) {
      expect(decideOne('deploy', { nowSec }, ['deployers']), String(nowSec)).toMatchObject({
        effect: 'deny',
        reasons: ['deploy-change-window'],
      });
    }
  });

  it('does not apply the change window to execute', () => {
    expect(decideOne('execute', { nowSec: SAT_10_00 }, ['deployers'])).toMatchObject({
      effect: 'permit',
    });
  });

  it('denies everything at risk 80 and above with reason high-risk', () => {
    expect(decideOne('read', { risk: 79 })).toMatchObject({ effect: 'permit' });
    expect(decideOne('read', { risk: 80 })).toMatchObject({
      effect: 'deny',
      reasons: ['high-risk'],
    });
    expect(decideOne('write', { risk: 100 }, ['writers'])).toMatchObject({
      effect: 'deny',
      reasons: ['high-risk'],
    });
  });

  it('denies everything once credential_compromised is signalled', () => {
    expect(decideOne('read', { signals: ['new_ip', 'credential_compromised'] })).toMatchObject({
      effect: 'deny',
      reasons: ['credential-compromised'],
    });
    expect(decideOne('read', { signals: ['new_ip'] })).toMatchObject({ effect: 'permit' });
  });

  it('denies above 600 calls a minute', () => {
    const usage = (calls: number) => ({ calls_last_minute: calls, denied_last_hour: 0 });
    expect(decideOne('read', { usage: usage(600) })).toMatchObject({ effect: 'permit' });
    expect(decideOne('read', { usage: usage(601) })).toMatchObject({
      effect: 'deny',
      reasons: ['call-volume'],
    });
  });

  it('denies after more than 50 denials in the hour', () => {
    expect(
      decideOne('read', { usage: { calls_last_minute: 0, denied_last_hour: 51 } }),
    ).toMatchObject({
      effect: 'deny',
      reasons: ['repeated-denials'],
    });
  });

  it('gives every reason when several forbids apply', () => {
    const d = decideOne('read', { risk: 95, signals: ['credential_compromised'] });
    expect(d.effect).toBe('deny');
    expect([...d.reasons].sort()).toEqual(['credential-compromised', 'high-risk']);
  });

  it('decides without an ip', () => {
    expect(decideOne('read', { ip: undefined })).toMatchObject({ effect: 'permit' });
  });

  it('denies, never errors out, on an ip that is not an address (when the policy reads ip)', () => {
    const set = compileOrThrow(
      '@id("v4") permit(principal, action, resource) when { context has ip && context.ip.isIpv4() };',
    );
    expect(decideOne('read', { ip: 'not-an-ip' }, [], set)).toMatchObject({ effect: 'deny' });
    expect(decideOne('read', { ip: '10.0.0.1' }, [], set)).toMatchObject({ effect: 'permit' });
  });
});

describe('context the policies can read', () => {
  it('sets usage.new_action per pair from the actions used before', () => {
    const set = compileOrThrow(
      '@id("all") permit(principal, action, resource);\n@id("new") forbid(principal, action, resource) when { context.usage.new_action };',
    );
    expect(decideOne('read', {}, [], set)).toMatchObject({ effect: 'permit' });
    expect(decideOne('search', {}, [], set)).toMatchObject({ effect: 'deny', reasons: ['new'] });
  });

  it('exposes ip, task, datatypes, agent attributes and groups', () => {
    const set = compileOrThrow(
      [
        '@id("ip") permit(principal, action == Action::"read", resource) when { context has ip && context.ip.isInRange(ip("203.0.113.0/24")) };',
        '@id("task") permit(principal, action == Action::"search", resource) when { context.task.id == "T-1" && context.datatypes.contains("customer_record") };',
        '@id("team") permit(principal in Group::"g", action == Action::"list", resource) when { principal has team && principal.team == "sales" };',
      ].join('\n'),
    );
    expect(decideOne('read', {}, [], set).effect).toBe('permit');
    expect(decideOne('read', { ip: '198.51.100.7' }, [], set).effect).toBe('deny');
    expect(decideOne('search', {}, [], set).effect).toBe('permit');
    expect(decideOne('search', { task: { id: 'T-2', purpose: '' } }, [], set).effect).toBe('deny');
    expect(decideOne('list', {}, ['g'], set).effect).toBe('permit');
    expect(decideOne('list', {}, [], set).effect).toBe('deny');
  });

  // A forbid that errors is skipped under Cedar's semantics, so a type error in an agent's
  // attributes (not checked against the schema) turns a refusal into a permit. A broker must fail closed.
  it('does not permit when a forbid fails to evaluate', () => {
    const set = compileOrThrow(
      '@id("all") permit(principal, action, resource);\n@id("no-red") forbid(principal, action, resource) when { principal has team && principal.team like "red*" };',
    );
    const d = set.decide(
      { ...facts(), agent: { id: 'agent-1', groups: [], attributes: { team: 5 } } },
      [pair('read')],
    )[0];
    expect(d?.effect).not.toBe('permit');
  });
});

describe('compilePolicySet problems', () => {
  it('reports a syntax error with its line and column', () => {
    const text =
      '@id("ok")\npermit(principal, action, resource);\n\n@id("broken")\npermit(principal, action, resource)\n  when { context.risk >= };\n';
    const result = compilePolicySet(text, SCHEMA, 2);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems[0]).toMatchObject({ line: 6, column: expect.any(Number) });
    expect(result.problems[0]?.column).toBeGreaterThan(1);
  });

  it('rejects a duplicate @id at the second policy', () => {
    const text =
      '@id("same")\npermit(principal, action, resource);\n@id("same")\nforbid(principal, action, resource);\n';
    const result = compilePolicySet(text, SCHEMA, 2);
    expect(result).toMatchObject({
      ok: false,
      problems: [{ policy_id: 'same', line: 3, column: 1 }],
    });
  });

  it('rejects an unknown context attribute by schema validation, located in the text', () => {
    const text =
      '// header comment\n@id("fine")\npermit(principal, action, resource);\n\n@id("typo")\nforbid(principal, action, resource)\n  when { context.riskk > 5 };\n';
    const result = compilePolicySet(text, SCHEMA, 2);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.length).toBeGreaterThan(0);
    for (const p of result.problems) {
      expect(p).toMatchObject({ policy_id: 'typo', line: 7 });
      expect(p.message).toContain('riskk');
    }
  });

  it('rejects an unknown action and a wrongly typed comparison', () => {
    expect(
      compilePolicySet('permit(principal, action == Action::"fly", resource);', SCHEMA, 2).ok,
    ).toBe(false);
    expect(
      compilePolicySet(
        'permit(principal, action, resource) when { context.risk == "high" };',
        SCHEMA,
        2,
      ).ok,
    ).toBe(false);
  });

  it('rejects templates', () => {
    expect(
      compilePolicySet('permit(principal == ?principal, action, resource);', SCHEMA, 2).ok,
    ).toBe(false);
  });

  it('accepts an empty set, which denies everything', () => {
    const set = compileOrThrow('');
    expect(decideOne('read', {}, [], set)).toMatchObject({
      effect: 'deny',
      reasons: ['no-permit'],
    });
  });

  it('keeps versions apart: a later set does not change an earlier one', () => {
    const strict = compilePolicySet('@id("none") forbid(principal, action, resource);', SCHEMA, 9);
    expect(strict.ok).toBe(true);
    expect(decideOne('read')).toMatchObject({ effect: 'permit' });
  });
});
