// JSON bounds: each limit refused at its first step past the maximum, with the path; no recursion whatever the depth.
import { describe, expect, it } from 'vitest';
import { AUTHORIZATION_DETAILS_JSON_LIMITS } from '../../src/domain/intent.ts';
import {
  DEFAULT_JSON_LIMITS,
  describeJsonBreach,
  type JsonLimits,
  jsonOverLimits,
  parseJsonWithin,
} from '../../src/domain/json-bounds.ts';

const limits: JsonLimits = { maxDepth: 4, maxNodes: 50, maxMembers: 5, maxStringLength: 10 };

/** `[[[…]]]` nested `depth` deep, built without recursion. */
function nestedArrays(depth: number): unknown {
  let v: unknown = [];
  for (let i = 1; i < depth; i++) v = [v];
  return v;
}

describe('jsonOverLimits', () => {
  it('accepts scalars and values exactly at every limit', () => {
    for (const v of [null, true, 0, 'ten chars!', [], {}])
      expect(jsonOverLimits(v, limits)).toBeUndefined();
    expect(jsonOverLimits(nestedArrays(4), limits)).toBeUndefined();
    expect(jsonOverLimits({ a: 1, b: 2, c: 3, d: 4, e: 5 }, limits)).toBeUndefined();
    expect(jsonOverLimits([1, 2, 3, 4, 5], limits)).toBeUndefined();
  });

  it('refuses one level too deep, naming the path to the container that breaks it', () => {
    expect(jsonOverLimits(nestedArrays(5), limits)).toEqual({
      limit: 'depth',
      max: 4,
      path: '0.0.0.0',
    });
    expect(jsonOverLimits({ a: { b: { c: { d: { e: 1 } } } } }, limits)).toEqual({
      limit: 'depth',
      max: 4,
      path: 'a.b.c.d',
    });
    // Scalars do not count as a level.
    expect(jsonOverLimits({ a: { b: { c: { d: 'x' } } } }, limits)).toBeUndefined();
  });

  it('refuses too many members or items in one container', () => {
    expect(jsonOverLimits({ x: [1, 2, 3, 4, 5, 6] }, limits)).toEqual({
      limit: 'members',
      max: 5,
      path: 'x',
    });
    expect(jsonOverLimits({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }, limits)).toEqual({
      limit: 'members',
      max: 5,
      path: '',
    });
  });

  it('refuses too many values in all, however they are spread', () => {
    const wide = [
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
      [1, 2, 3, 4, 5],
    ];
    expect(jsonOverLimits(wide, limits)).toBeUndefined(); // 31 values
    const wider = { a: wide, b: wide };
    expect(jsonOverLimits(wider, limits)?.limit).toBe('nodes');
  });

  it('refuses a long string and a long member name', () => {
    expect(jsonOverLimits({ s: 'eleven char' }, limits)).toEqual({
      limit: 'string_length',
      max: 10,
      path: 's',
    });
    expect(jsonOverLimits({ 'eleven-char': 1 }, limits)).toEqual({
      limit: 'string_length',
      max: 10,
      path: 'eleven-char',
    });
  });

  it('checks a value nested a million deep without overflowing its own stack', () => {
    const deep = nestedArrays(1_000_000);
    expect(jsonOverLimits(deep, DEFAULT_JSON_LIMITS)).toMatchObject({ limit: 'depth', max: 32 });
    // Even with limits that let it through, the walk is iterative and finishes.
    expect(
      jsonOverLimits(deep, { ...DEFAULT_JSON_LIMITS, maxDepth: 2_000_000, maxNodes: 2_000_000 }),
    ).toBeUndefined();
  });

  it('keeps the path it reports short, whatever the member names', () => {
    const key = 'k'.repeat(5000);
    let v: unknown = 1;
    for (let i = 0; i < 40; i++) v = { [key]: v };
    const b = jsonOverLimits(v, { ...DEFAULT_JSON_LIMITS, maxDepth: 8 });
    expect(b?.limit).toBe('depth');
    expect((b?.path ?? '').length).toBeLessThanOrEqual(201);
  });

  it('describes a breach naming the field', () => {
    expect(describeJsonBreach({ limit: 'depth', max: 32, path: 'n.0' }, 'context')).toBe(
      'context.n.0: nested deeper than 32 levels',
    );
    expect(describeJsonBreach({ limit: 'members', max: 5, path: '' }, '')).toMatch(/^\(body\): /);
  });
});

describe('parseJsonWithin', () => {
  it('parses text within the limits', () => {
    expect(parseJsonWithin('{"a":[1,"x"]}', limits)).toEqual({ ok: true, value: { a: [1, 'x'] } });
  });

  it('refuses invalid text as a syntax problem, never a throw', () => {
    for (const text of ['', '{', '[1,]', 'undefined', '{"a":1}}'])
      expect(parseJsonWithin(text, limits)).toMatchObject({ ok: false, reason: 'syntax' });
  });

  it('refuses a million-deep text as a limits problem naming the field', () => {
    const text = `{"context":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}`;
    const r = parseJsonWithin(text, DEFAULT_JSON_LIMITS);
    expect(r).toMatchObject({ ok: false, reason: 'limits' });
    expect(r.ok ? '' : r.field).toMatch(/^context\.0\.0/);
  });
});

describe('AUTHORIZATION_DETAILS_JSON_LIMITS', () => {
  it('admits the largest valid authorization_details', () => {
    const entry = {
      type: 'agent_task',
      task_id: 't'.repeat(200),
      purpose: 'p'.repeat(500),
      actions: Array.from({ length: 32 }, (_, i) => `a${i}`),
      locations: Array.from({ length: 32 }, (_, i) => `https://r${i}.example/${'x'.repeat(480)}`),
      datatypes: Array.from({ length: 32 }, (_, i) => `d${i}`),
      steps: Array.from({ length: 32 }, (_, i) => `s${i}`),
      ttl: 60,
    };
    expect(
      jsonOverLimits(
        Array.from({ length: 16 }, () => entry),
        AUTHORIZATION_DETAILS_JSON_LIMITS,
      ),
    ).toBeUndefined();
  });

  it('refuses anything nested inside an entry', () => {
    expect(
      jsonOverLimits([{ type: 'agent_task', extra: [[1]] }], AUTHORIZATION_DETAILS_JSON_LIMITS)
        ?.limit,
    ).toBe('depth');
  });
});
