// The bound on tool arguments shown to policy: what fits (strings, booleans, safe integers) and what is named as not fitting.
import { describe, expect, it } from 'vitest';
import {
  MAX_TOOL_ARGUMENT_STRING,
  MAX_TOOL_ARGUMENTS,
  toolArgumentsFault,
} from '../../src/domain/tool-arguments.ts';

describe('toolArgumentsFault', () => {
  it('accepts strings up to the limit, booleans and safe integers', () => {
    expect(
      toolArgumentsFault({
        query: 'x'.repeat(MAX_TOOL_ARGUMENT_STRING),
        urgent: false,
        amount: -Number.MAX_SAFE_INTEGER,
      }),
    ).toBeUndefined();
    expect(toolArgumentsFault({})).toBeUndefined();
  });

  it.each([
    ['a fraction', { amount: 9.5 }, 'amount'],
    ['an unsafe integer', { amount: 2 ** 53 }, 'amount'],
    ['a long string', { query: 'x'.repeat(MAX_TOOL_ARGUMENT_STRING + 1) }, 'query'],
    ['an object', { filter: { a: 1 } }, 'filter'],
    ['a list', { ids: ['T-1'] }, 'ids'],
    ['null', { note: null }, 'note'],
  ])('names the argument that is %s', (_what, args, name) => {
    expect(toolArgumentsFault(args)).toContain(`"${name}"`);
  });

  it('refuses more than the allowed count and names out of bounds', () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_TOOL_ARGUMENTS + 1 }, (_, i) => [`a${i}`, i]),
    );
    expect(toolArgumentsFault(many)).toMatch(/at most 32/);
    expect(toolArgumentsFault({ ['n'.repeat(65)]: 1 })).toMatch(/name/);
    expect(toolArgumentsFault({ '': 1 })).toMatch(/name/);
  });
});
