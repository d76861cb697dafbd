// Shared batch inputs in the decision chain, and a grant's signal summary standing in for dropped signals: pure, fixed clock.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  type DecisionInput,
  type DecisionRecord,
  sharedRefOf,
  verifyChain,
} from '../../src/domain/decision-record.ts';
import {
  latestIp,
  latestRisk,
  type Signal,
  summarizedContext,
  withSummary,
} from '../../src/domain/drift.ts';

const hashOf = (canonical: string) => createHash('sha256').update(canonical).digest('base64url');
const T0_MS = 1_704_276_000_000;

/** A chain as one writer seals it. */
function chainOf(inputs: Array<Pick<DecisionInput, 'kind' | 'inputs'>>): DecisionRecord[] {
  let prev = '';
  return inputs.map((input, i) => {
    const body = {
      kind: input.kind,
      outcome: 'permit',
      reasons: [],
      inputs: input.inputs,
      id: `d-${i + 1}`,
      at_ms: T0_MS + i,
      chain: 'c',
      seq: i + 1,
      prev,
    };
    const record = { ...body, hash: hashOf(canonicalJson(body)) } as DecisionRecord;
    prev = record.hash;
    return record;
  });
}

describe('shared batch inputs in the chain', () => {
  const shared = {
    kind: 'inputs' as const,
    inputs: { caller: 'rs', context: { ip: '203.0.113.9' } },
  };

  it('verifies decisions that name the shared record by its hash', () => {
    const [first] = chainOf([shared]);
    const ref = { record: 'd-1', sid: '1-0', hash: first?.hash ?? '' };
    const log = chainOf([
      shared,
      { kind: 'evaluation', inputs: { shared_context: ref } },
      { kind: 'evaluation', inputs: { shared_context: ref } },
    ]);
    expect(sharedRefOf(log[1] as DecisionRecord)).toEqual(ref);
    expect(verifyChain(log, hashOf)).toEqual({ ok: true, records: 3 });
  });

  it('breaks where a decision names shared inputs other than those in the log', () => {
    // The shared record and the chain re-sealed whole with another context: each record matches its
    // hash, but the decisions still name the original shared record's hash.
    const [original] = chainOf([shared]);
    const ref = { record: 'd-1', sid: '1-0', hash: original?.hash ?? '' };
    const forged = chainOf([
      { kind: 'inputs', inputs: { caller: 'rs', context: { ip: '198.51.100.1' } } },
      { kind: 'evaluation', inputs: { shared_context: ref } },
    ]);
    expect(verifyChain(forged, hashOf)).toMatchObject({
      ok: false,
      broken: { id: 'd-2', problem: 'shared inputs d-1 differ from their reference' },
    });
  });

  it('does not look for a shared record retention trimmed', () => {
    const [first] = chainOf([shared]);
    const ref = { record: 'd-1', sid: '1-0', hash: first?.hash ?? '' };
    const log = chainOf([shared, { kind: 'evaluation', inputs: { shared_context: ref } }]);
    expect(verifyChain(log.slice(1), hashOf)).toEqual({ ok: true, records: 1 });
  });
});

describe('signal summary', () => {
  const grant = {
    context: {
      ip: '203.0.113.9',
      risk: 5,
      signals: ['at_mint'],
      approved: false,
      delegated: false,
      sender_constrained: false,
      groups: [],
    },
  };
  const summary = {
    version: 7,
    types: ['quarantine', 'ip_changed', 'heartbeat'],
    ip: '198.51.100.7',
    risk: 80,
  };

  it("gives the live context from the summary over the grant's own", () => {
    expect(summarizedContext(grant, summary)).toEqual({
      ip: '198.51.100.7',
      risk: 80,
      signals: ['at_mint', 'quarantine', 'ip_changed', 'heartbeat'],
    });
    expect(summarizedContext(grant, { version: 0, types: [], risk: 0 })).toEqual({
      ip: '203.0.113.9',
      risk: 5,
      signals: ['at_mint'],
    });
  });

  it('stands in for dropped signals: every type, the highest risk, the latest ip, never on ip_changed', () => {
    const recent: Signal[] = [{ type: 'heartbeat', risk: 1, at: 100 }];
    const all = withSummary(recent, summary);
    expect(new Set(all.map((s) => s.type))).toEqual(new Set(summary.types));
    expect(latestRisk({ ...grant, context: { ...grant.context, risk: 0 } } as never, all)).toBe(80);
    expect(latestIp(grant as never, all)).toBe('198.51.100.7');
    expect(all.find((s) => s.type === 'ip_changed')?.context).toBeUndefined();
    // The recent signals stay last, as they were.
    expect(all.at(-1)).toEqual(recent[0]);
  });

  it('leaves a complete history as it is', () => {
    const recent: Signal[] = [{ type: 'heartbeat', at: 1 }];
    expect(withSummary(recent, { version: 1, types: ['heartbeat'], risk: 0 })).toEqual(recent);
  });
});
