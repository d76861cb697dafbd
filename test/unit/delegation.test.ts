// Unit tests of the pure delegation pieces: act chains, may_act, the person's groups, what a sub-agent gets of a parent grant.
import { describe, expect, it } from 'vitest';
import {
  actDepth,
  actOfVerifiedToken,
  groupsClaim,
  mayAct,
  nestAct,
  personSubject,
  withinParent,
} from '../../src/domain/delegation.ts';
import { isTokenSubject } from '../../src/domain/evaluation.ts';
import type { AgentTask } from '../../src/domain/intent.ts';

const CRM = 'https://crm.example.com';
const FILES = 'https://files.example.com';
const entry = (
  actions: string[],
  locations: string[],
  extra: Partial<AgentTask> = {},
): AgentTask => ({
  type: 'agent_task',
  task_id: 'T-1',
  actions,
  locations,
  ...extra,
});

describe('act chains (RFC 8693 4.1)', () => {
  it('puts the current actor outermost and the prior chain beneath', () => {
    const first = nestAct('helper', undefined);
    expect(first).toEqual({ sub: 'helper' });
    const second = nestAct('worker', first);
    expect(second).toEqual({ sub: 'worker', act: { sub: 'helper' } });
    expect(actDepth(undefined)).toBe(0);
    expect(actDepth(first)).toBe(1);
    expect(actDepth(nestAct('intern', second))).toBe(3);
  });

  it('reads act from a token payload, and nothing from a malformed one', () => {
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const token = (payload: unknown) => `${b64({ alg: 'ES256' })}.${b64(payload)}.sig`;
    expect(actOfVerifiedToken(token({ sub: 'p', act: { sub: 'a', act: { sub: 'b' } } }))).toEqual({
      sub: 'a',
      act: { sub: 'b' },
    });
    expect(actOfVerifiedToken(token({ sub: 'p' }))).toBeUndefined();
    expect(actOfVerifiedToken(token({ act: { sub: 7 } }))).toBeUndefined();
    expect(actOfVerifiedToken('garbage')).toBeUndefined();
  });

  it('lets an evaluation name a delegated token by its subject or by the acting agent', () => {
    const delegated = { sub: 'https://idp|alice', client_id: 'agent', act: { sub: 'agent' } };
    expect(isTokenSubject('https://idp|alice', delegated)).toBe(true);
    expect(isTokenSubject('agent', delegated)).toBe(true);
    expect(isTokenSubject('someone', delegated)).toBe(false);
    expect(isTokenSubject('agent', { sub: 'other', client_id: 'agent' })).toBe(false);
  });
});

describe('may_act (RFC 8693 4.4) and the person', () => {
  it('allows any agent without may_act, only the named one with it, nobody with a malformed one', () => {
    expect(mayAct({ sub: 'alice' }, 'agent')).toBe(true);
    expect(mayAct({ may_act: { sub: 'agent' } }, 'agent')).toBe(true);
    expect(mayAct({ may_act: { sub: 'other' } }, 'agent')).toBe(false);
    expect(mayAct({ may_act: 'agent' }, 'agent')).toBe(false);
    expect(mayAct({ may_act: null }, 'agent')).toBe(false);
  });

  it('names the person issuer|sub and keeps only string groups', () => {
    expect(personSubject('https://idp.example.com', 'alice')).toBe('https://idp.example.com|alice');
    expect(groupsClaim({ groups: ['finance', 3, '', 'ops'] })).toEqual(['finance', 'ops']);
    expect(groupsClaim({ groups: 'finance' })).toEqual([]);
    expect(groupsClaim({})).toEqual([]);
  });
});

describe('withinParent: what a sub-agent may get of a parent grant', () => {
  const parent = [entry(['read', 'write'], [CRM]), entry(['read'], [FILES])];

  it('keeps a request inside the parent as asked', () => {
    const asked = [entry(['read'], [CRM, FILES], { task_id: 'sub-1' })];
    expect(withinParent(asked, parent)).toEqual(asked);
  });

  it('narrows a wider request to the intersection of pairs', () => {
    const asked = [entry(['read', 'write', 'delete'], [CRM, FILES])];
    const got = withinParent(asked, parent);
    expect(got).toEqual([entry(['read'], [CRM, FILES]), entry(['write'], [CRM])]);
  });

  it('is empty when no requested pair is held', () => {
    expect(withinParent([entry(['delete'], [CRM])], parent)).toEqual([]);
    expect(withinParent([entry(['read'], ['https://other.example.com'])], parent)).toEqual([]);
  });
});
