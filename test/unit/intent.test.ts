// agent_task intents: what the schema admits, the pairs of an intent, and narrowing to what was permitted.
import { describe, expect, it } from 'vitest';
import {
  type AgentTask,
  AgentTaskSchema,
  AuthorizationDetailsSchema,
  allowsPair,
  audienceOf,
  datatypesOf,
  isWithin,
  MAX_GRANT_TTL_SEC,
  narrowEntries,
  type Pair,
  pairsOf,
  scopeOf,
} from '../../src/domain/intent.ts';

const CRM = 'https://crm.example.com';
const MAIL = 'https://mail.example.com';
const DOCS = 'https://docs.example.com/api';

const task = (over: Partial<AgentTask> = {}): AgentTask => ({
  type: 'agent_task',
  task_id: 'T-4711',
  actions: ['read'],
  locations: [CRM],
  ...over,
});

const pairKeys = (pairs: readonly Pair[]) =>
  pairs.map((p) => `${p.entry}|${p.action}|${p.location}`);
const flatPairs = (entries: readonly AgentTask[]) =>
  new Set(pairsOf(entries).map((p) => `${p.action}|${p.location}`));

describe('AgentTaskSchema', () => {
  it('accepts the contract example', () => {
    const example = {
      type: 'agent_task',
      task_id: 'T-4711',
      purpose: 'weekly CRM summary',
      actions: ['read'],
      locations: [CRM],
      datatypes: ['customer_record'],
      steps: ['search', 'read'],
      ttl: 600,
    };
    expect(AgentTaskSchema.parse(example)).toEqual(example);
  });

  it('accepts the minimal entry: type, task_id, actions, locations', () => {
    expect(AgentTaskSchema.safeParse(task()).success).toBe(true);
  });

  it.each([
    ['another type', { type: 'payment_initiation' }],
    ['no actions', { actions: [] }],
    ['no locations', { locations: [] }],
    ['a relative location', { locations: ['/crm'] }],
    ['a location that is not a URI', { locations: ['crm example'] }],
    ['an action with a space', { actions: ['read all'] }],
    ['an action starting with punctuation', { actions: ['-read'] }],
    ['an empty action', { actions: [''] }],
    ['an action of 65 characters', { actions: ['a'.repeat(65)] }],
    ['33 actions', { actions: Array.from({ length: 33 }, (_, i) => `a${i}`) }],
    ['33 locations', { locations: Array.from({ length: 33 }, (_, i) => `https://h${i}.example`) }],
    ['a zero ttl', { ttl: 0 }],
    ['a negative ttl', { ttl: -5 }],
    ['a fractional ttl', { ttl: 1.5 }],
    ['a ttl above the maximum', { ttl: MAX_GRANT_TTL_SEC + 1 }],
    ['an empty task_id', { task_id: '' }],
    ['a task_id of 201 characters', { task_id: 'T'.repeat(201) }],
    ['a purpose of 501 characters', { purpose: 'p'.repeat(501) }],
    ['an empty datatype', { datatypes: [''] }],
    ['actions as a string', { actions: 'read' }],
  ])('rejects %s', (_label, over) => {
    expect(AgentTaskSchema.safeParse({ ...task(), ...over }).success).toBe(false);
  });

  it('rejects unknown members (strict)', () => {
    expect(AgentTaskSchema.safeParse({ ...task(), privileges: ['admin'] }).success).toBe(false);
  });

  it('rejects a missing actions or locations member', () => {
    const { actions: _a, ...noActions } = task();
    const { locations: _l, ...noLocations } = task();
    expect(AgentTaskSchema.safeParse(noActions).success).toBe(false);
    expect(AgentTaskSchema.safeParse(noLocations).success).toBe(false);
  });

  it('accepts the largest ttl and names with _ . : -', () => {
    expect(
      AgentTaskSchema.safeParse(task({ ttl: MAX_GRANT_TTL_SEC, actions: ['crm:read_all.v2-x'] }))
        .success,
    ).toBe(true);
  });
});

describe('AuthorizationDetailsSchema', () => {
  it('accepts several entries of one task', () => {
    const details = [task(), task({ actions: ['write'], locations: [MAIL] })];
    expect(AuthorizationDetailsSchema.parse(details)).toHaveLength(2);
  });

  it('rejects entries of different tasks', () => {
    expect(AuthorizationDetailsSchema.safeParse([task(), task({ task_id: 'T-2' })]).success).toBe(
      false,
    );
  });

  it('rejects an empty array, more than 16 entries and a bare object', () => {
    expect(AuthorizationDetailsSchema.safeParse([]).success).toBe(false);
    expect(
      AuthorizationDetailsSchema.safeParse(Array.from({ length: 17 }, () => task())).success,
    ).toBe(false);
    expect(AuthorizationDetailsSchema.safeParse(task()).success).toBe(false);
  });

  it('rejects the whole array when one entry is malformed', () => {
    expect(
      AuthorizationDetailsSchema.safeParse([task(), { ...task(), locations: ['nope'] }]).success,
    ).toBe(false);
  });
});

describe('pairsOf', () => {
  it('lists every (action, location) of each entry in request order', () => {
    const pairs = pairsOf([
      task({ actions: ['read', 'write'], locations: [CRM, MAIL] }),
      task({ actions: ['list'], locations: [DOCS] }),
    ]);
    expect(pairKeys(pairs)).toEqual([
      `0|read|${CRM}`,
      `0|read|${MAIL}`,
      `0|write|${CRM}`,
      `0|write|${MAIL}`,
      `1|list|${DOCS}`,
    ]);
  });

  it('drops duplicates within an entry but keeps the same pair of another entry', () => {
    const pairs = pairsOf([task({ actions: ['read', 'read'], locations: [CRM, CRM] }), task()]);
    expect(pairKeys(pairs)).toEqual([`0|read|${CRM}`, `1|read|${CRM}`]);
  });

  it('is empty for no entries', () => {
    expect(pairsOf([])).toEqual([]);
  });
});

describe('narrowEntries', () => {
  const requested = [
    task({
      actions: ['read', 'write'],
      locations: [CRM, MAIL],
      datatypes: ['customer_record'],
      ttl: 600,
    }),
  ];

  it('returns the entries unchanged when every pair is permitted', () => {
    expect(narrowEntries(requested, pairsOf(requested))).toEqual(requested);
  });

  it('drops a whole action', () => {
    const permitted = pairsOf(requested).filter((p) => p.action === 'read');
    expect(narrowEntries(requested, permitted)).toEqual([
      { ...requested[0], actions: ['read'], locations: [CRM, MAIL] },
    ]);
  });

  it('splits an entry whose actions end up with different locations, keeping its other members', () => {
    const permitted = pairsOf(requested).filter(
      (p) => !(p.action === 'write' && p.location === MAIL),
    );
    const narrowed = narrowEntries(requested, permitted);
    expect(narrowed).toEqual([
      { ...requested[0], actions: ['read'], locations: [CRM, MAIL] },
      { ...requested[0], actions: ['write'], locations: [CRM] },
    ]);
    expect(flatPairs(narrowed)).toEqual(new Set([`read|${CRM}`, `read|${MAIL}`, `write|${CRM}`]));
  });

  it('groups actions that share the same permitted locations', () => {
    const entries = [task({ actions: ['read', 'search', 'write'], locations: [CRM, MAIL] })];
    const permitted = pairsOf(entries).filter((p) => p.location === CRM);
    expect(narrowEntries(entries, permitted)).toEqual([
      { ...entries[0], actions: ['read', 'search', 'write'], locations: [CRM] },
    ]);
  });

  it('removes entries with nothing permitted and ignores pairs of other entries or not requested', () => {
    const entries = [task(), task({ actions: ['write'], locations: [MAIL] })];
    const permitted: Pair[] = [
      { entry: 1, action: 'write', location: MAIL },
      { entry: 0, action: 'delete', location: CRM },
      { entry: 0, action: 'read', location: DOCS },
      { entry: 5, action: 'read', location: CRM },
    ];
    expect(narrowEntries(entries, permitted)).toEqual([entries[1]]);
  });

  it('is empty when nothing is permitted', () => {
    expect(narrowEntries(requested, [])).toEqual([]);
  });
});

describe('isWithin', () => {
  const outer = [task({ actions: ['read', 'write'], locations: [CRM, MAIL] })];

  it('holds for a subset and for the same set in another shape', () => {
    expect(isWithin([task({ actions: ['write'], locations: [MAIL] })], outer)).toBe(true);
    expect(
      isWithin(
        [
          task({ actions: ['read'], locations: [CRM, MAIL] }),
          task({ actions: ['write'], locations: [CRM, MAIL] }),
        ],
        outer,
      ),
    ).toBe(true);
    expect(isWithin([], outer)).toBe(true);
  });

  it('fails for one pair more, even when action and location each appear', () => {
    expect(isWithin([task({ actions: ['delete'], locations: [CRM] })], outer)).toBe(false);
    expect(isWithin([task({ actions: ['read'], locations: [DOCS] })], outer)).toBe(false);
    const cross = [
      task({ actions: ['read'], locations: [CRM] }),
      task({ actions: ['write'], locations: [MAIL] }),
    ];
    expect(isWithin([task({ actions: ['read', 'write'], locations: [CRM, MAIL] })], cross)).toBe(
      false,
    );
  });

  it('ignores task ids', () => {
    expect(isWithin([task({ task_id: 'other' })], outer)).toBe(true);
  });
});

describe('allowsPair', () => {
  const granted = [
    task({ actions: ['read'], locations: [CRM] }),
    task({ actions: ['write'], locations: [MAIL] }),
  ];

  it('allows exactly the pairs of one entry', () => {
    expect(allowsPair(granted, 'read', CRM)).toBe(true);
    expect(allowsPair(granted, 'write', MAIL)).toBe(true);
    expect(allowsPair(granted, 'read', MAIL)).toBe(false);
    expect(allowsPair(granted, 'write', CRM)).toBe(false);
  });

  it('compares exactly: no prefix, case or trailing-slash matches', () => {
    expect(allowsPair(granted, 'READ', CRM)).toBe(false);
    expect(allowsPair(granted, 'read', `${CRM}/`)).toBe(false);
    expect(allowsPair(granted, 'read', `${CRM}.evil.example`)).toBe(false);
    expect(allowsPair([], 'read', CRM)).toBe(false);
  });
});

describe('audienceOf, scopeOf, datatypesOf', () => {
  const entries = [
    task({ actions: ['read', 'search'], locations: [CRM, MAIL], datatypes: ['customer_record'] }),
    task({
      actions: ['read', 'write'],
      locations: [MAIL, DOCS],
      datatypes: ['customer_record', 'email'],
    }),
  ];

  it('audience: distinct locations in first-seen order', () => {
    expect(audienceOf(entries)).toEqual([CRM, MAIL, DOCS]);
  });

  it('scope: distinct actions separated by one space', () => {
    expect(scopeOf(entries)).toBe('read search write');
    expect(scopeOf([])).toBe('');
  });

  it('datatypes: distinct, absent ones ignored', () => {
    expect(datatypesOf([...entries, task()])).toEqual(['customer_record', 'email']);
  });
});
