// Combining per-pair policy effects into the outcome of a whole intent.
import { describe, expect, it } from 'vitest';
import {
  combineDecisions,
  type PairDecision,
  type PairEffect,
  reasonsOf,
} from '../../src/domain/decision.ts';
import { type AgentTask, pairsOf } from '../../src/domain/intent.ts';

const CRM = 'https://crm.example.com';
const MAIL = 'https://mail.example.com';

const entries: AgentTask[] = [
  {
    type: 'agent_task',
    task_id: 'T-1',
    actions: ['read', 'export'],
    locations: [CRM, MAIL],
    ttl: 600,
  },
];
const pairs = pairsOf(entries);

/** One decision per requested pair; `effects` keyed `action|location`, default deny. */
function decide(effects: Record<string, PairEffect>): PairDecision[] {
  return pairs.map((pair) => {
    const effect = effects[`${pair.action}|${pair.location}`] ?? 'deny';
    return {
      pair,
      effect,
      reasons: [
        effect === 'permit' ? 'allow-it' : effect === 'approval' ? 'needs-human' : 'no-permit',
      ],
    };
  });
}

describe('combineDecisions', () => {
  it('permits as asked when every pair is permitted', () => {
    const all = Object.fromEntries(
      pairs.map((p) => [`${p.action}|${p.location}`, 'permit' as const]),
    );
    const d = combineDecisions(entries, decide(all));
    expect(d.outcome).toBe('permit');
    expect(d.granted).toEqual(entries);
  });

  it('narrows to exactly the permitted pairs when some are denied', () => {
    const d = combineDecisions(
      entries,
      decide({ [`read|${CRM}`]: 'permit', [`read|${MAIL}`]: 'permit' }),
    );
    expect(d.outcome).toBe('narrow');
    expect(d.granted).toEqual([{ ...entries[0], actions: ['read'], locations: [CRM, MAIL] }]);
  });

  it('asks for approval when a pair only a human may allow, covering permitted and approvable pairs', () => {
    const d = combineDecisions(
      entries,
      decide({
        [`read|${CRM}`]: 'permit',
        [`export|${CRM}`]: 'approval',
        [`read|${MAIL}`]: 'deny',
      }),
    );
    expect(d.outcome).toBe('approval');
    expect(d.granted).toEqual([{ ...entries[0], actions: ['read', 'export'], locations: [CRM] }]);
  });

  it('asks for approval even when nothing else is permitted', () => {
    const d = combineDecisions(entries, decide({ [`export|${MAIL}`]: 'approval' }));
    expect(d.outcome).toBe('approval');
    expect(d.granted).toEqual([{ ...entries[0], actions: ['export'], locations: [MAIL] }]);
  });

  it('denies with nothing granted when no pair is permitted', () => {
    const decisions = decide({});
    const d = combineDecisions(entries, decisions);
    expect(d.outcome).toBe('deny');
    expect(d.granted).toEqual([]);
    expect(d.pairs).toBe(decisions);
  });

  it('denies an empty intent', () => {
    expect(combineDecisions([], []).outcome).toBe('deny');
  });
});

describe('reasonsOf', () => {
  const decisions = decide({
    [`read|${CRM}`]: 'permit',
    [`read|${MAIL}`]: 'permit',
    [`export|${CRM}`]: 'approval',
  });

  it('lists each policy id once', () => {
    expect(reasonsOf(decisions).sort()).toEqual(['allow-it', 'needs-human', 'no-permit']);
  });

  it('filters by effect', () => {
    expect(reasonsOf(decisions, 'permit')).toEqual(['allow-it']);
    expect(reasonsOf(decisions, 'deny')).toEqual(['no-permit']);
  });
});
