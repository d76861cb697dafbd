// The realistic mix's token reuse (scripts/bench/fleet.ts): Zipf over a token's age behind a moving front, the same sequence every run.
import { describe, expect, it } from 'vitest';
import { createZipfPicker } from '../../scripts/bench/fleet.ts';

describe('createZipfPicker', () => {
  it('picks within the ring, the same sequence every time', () => {
    const a = createZipfPicker(1000);
    const b = createZipfPicker(1000);
    const picks = Array.from({ length: 5000 }, () => a());
    expect(picks).toEqual(Array.from({ length: 5000 }, () => b()));
    expect(picks.every((i) => Number.isInteger(i) && i >= 0 && i < 1000)).toBe(true);
  });

  it('checks the newest token most, and the front moves on one token every 4 picks', () => {
    const n = 25_000;
    const pick = createZipfPicker(n, { advanceEvery: 4 });
    const ages = new Map<number, number>();
    const rounds = 40_000;
    for (let j = 0; j < rounds; j++) {
      const front = Math.floor(j / 4) % n;
      const age = (front - pick() + n) % n;
      ages.set(age, (ages.get(age) ?? 0) + 1);
    }
    const share = (age: number) => (ages.get(age) ?? 0) / rounds;
    // Zipf with exponent 1.1 over 25,000: about 14% at age 0, age 1 about half as often.
    expect(share(0)).toBeGreaterThan(0.12);
    expect(share(0)).toBeLessThan(0.17);
    expect(share(1)).toBeLessThan(share(0));
    const newest30 = [...ages].filter(([age]) => age < 30).reduce((s, [, c]) => s + c, 0);
    expect(newest30 / rounds).toBeGreaterThan(0.45);
    expect(newest30 / rounds).toBeLessThan(0.55);
    // A long tail: some checks reach tokens thousands behind the front.
    expect([...ages.keys()].some((age) => age > 4000)).toBe(true);
  });
});
