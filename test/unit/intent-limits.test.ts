// Pair limits of an intent: counted like pairsOf, checked before any decision, per request and per grant.
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../src/domain/errors.ts';
import {
  type AgentTask,
  type IntentLimits,
  intentOverLimits,
  pairCount,
  pairsOf,
} from '../../src/domain/intent.ts';
import { parseIntent } from '../../src/services/parse-intent.ts';

const LIMITS: IntentLimits = { maxPairsPerRequest: 64, maxPairsPerGrant: 64 };

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const urls = (n: number) => Array.from({ length: n }, (_, i) => `https://r${i}.example.com`);

const task = (actions: string[], locations: string[]): AgentTask => ({
  type: 'agent_task',
  task_id: 'T-1',
  actions,
  locations,
});

/** The review's request: 16 entries of 32 actions x 32 locations. */
const amplified = () => Array.from({ length: 16 }, () => task(names('a', 32), urls(32)));

const parse = (
  details: unknown,
  limits: IntentLimits = LIMITS,
  extra: { resources?: string[]; scope?: string } = {},
) =>
  parseIntent(
    {
      authorizationDetails: JSON.stringify(details),
      resources: extra.resources ?? [],
      scope: extra.scope,
    },
    limits,
  );

function refusal(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OAuthError) return err;
    throw err;
  }
  throw new Error('expected an OAuthError');
}

describe('pairCount', () => {
  it('counts exactly what pairsOf yields, duplicates within an entry once, across entries each', () => {
    const cases: AgentTask[][] = [
      [task(['read'], ['https://a.example'])],
      [
        task(
          ['read', 'read', 'write'],
          ['https://a.example', 'https://a.example', 'https://b.example'],
        ),
      ],
      [task(['read'], ['https://a.example']), task(['read'], ['https://a.example'])],
      amplified(),
    ];
    for (const entries of cases) expect(pairCount(entries)).toBe(pairsOf(entries).length);
    expect(pairCount(amplified())).toBe(16_384);
    expect(pairCount([])).toBe(0);
  });
});

describe('intentOverLimits', () => {
  it('admits an intent of exactly the cap and refuses one pair more', () => {
    expect(intentOverLimits([task(names('a', 8), urls(8))], LIMITS)).toBeUndefined();
    expect(
      intentOverLimits([task(names('a', 8), urls(8)), task(['read'], urls(1))], LIMITS),
    ).toMatch(/65 .*at most 64 per request/);
  });

  it('applies the per-grant cap when it is the smaller one', () => {
    const limits = { maxPairsPerRequest: 64, maxPairsPerGrant: 10 };
    expect(intentOverLimits([task(names('a', 2), urls(5))], limits)).toBeUndefined();
    expect(intentOverLimits([task(names('a', 11), urls(1))], limits)).toMatch(
      /11 .*grant holds at most 10/,
    );
  });

  it('refuses the 16 x 32 x 32 request', () => {
    expect(intentOverLimits(amplified(), LIMITS)).toMatch(/16384/);
  });
});

describe('parseIntent with limits', () => {
  it('answers invalid_authorization_details (400) for a request beyond the cap', () => {
    const err = refusal(() => parse(amplified()));
    expect(err.code).toBe('invalid_authorization_details');
    expect(err.status).toBe(400);
  });

  it('admits a request of exactly the cap, entries and pairs as sent', () => {
    const details = [task(names('a', 32), urls(2))];
    expect(parse(details)).toEqual(details);
  });

  it('counts the pairs left after resource and scope narrowed the request', () => {
    const details = [task(names('a', 32), urls(32))];
    expect(refusal(() => parse(details)).code).toBe('invalid_authorization_details');
    const narrowed = parse(details, LIMITS, { resources: urls(2) });
    expect(pairCount(narrowed)).toBe(64);
    expect(pairCount(parse(details, LIMITS, { scope: 'a0 a1' }))).toBe(64);
  });

  it('caps the scope + resource shorthand too', () => {
    const req = {
      authorizationDetails: undefined,
      resources: urls(9),
      scope: names('a', 8).join(' '),
    };
    expect(refusal(() => parseIntent(req, LIMITS)).code).toBe('invalid_authorization_details');
    expect(pairCount(parseIntent({ ...req, resources: urls(8) }, LIMITS))).toBe(64);
  });
});

describe('parseIntent with MCP tool scopes', () => {
  it('takes `tools:<name>` and the bare name alike as the action, with or without authorization_details', () => {
    const mcp = 'https://mcp.example.com/mcp';
    const [plain] = parseIntent(
      {
        authorizationDetails: undefined,
        resources: [mcp],
        scope: 'tools:search_tickets read_ticket',
      },
      LIMITS,
    );
    expect(plain).toMatchObject({ actions: ['search_tickets', 'read_ticket'], locations: [mcp] });
    const [narrowed] = parseIntent(
      {
        authorizationDetails: JSON.stringify([
          {
            type: 'agent_task',
            task_id: 'T-1',
            actions: ['search_tickets', 'export_tickets'],
            locations: [mcp],
          },
        ]),
        resources: [],
        scope: 'tools:search_tickets',
      },
      LIMITS,
    );
    expect(narrowed?.actions).toEqual(['search_tickets']);
  });
});
