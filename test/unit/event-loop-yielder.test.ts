// The event-loop yielder: a turn once per time budget of work, on a fixed fake clock.
import { describe, expect, it } from 'vitest';
import { createEventLoopYielder } from '../../src/services/event-loop-yielder.ts';

/** A clock that moves only when told, and a turn that only counts. */
function fixture(budgetMs = 5) {
  let now = 1000;
  const turnsAt: number[] = [];
  const yielder = createEventLoopYielder({
    budgetMs,
    nowMs: () => now,
    yieldTurn: async () => {
      turnsAt.push(now);
    },
  });
  return { yielder, turnsAt, advance: (ms: number) => (now += ms) };
}

describe('createEventLoopYielder', () => {
  it('does not yield while the budget lasts', async () => {
    const { yielder, turnsAt, advance } = fixture(5);
    for (let i = 0; i < 4; i += 1) {
      advance(1);
      await yielder.pause();
    }
    expect(turnsAt).toEqual([]);
    expect(yielder.yields).toBe(0);
  });

  it('yields once the budget is spent, then starts a new budget', async () => {
    const { yielder, turnsAt, advance } = fixture(5);
    advance(5);
    await yielder.pause();
    expect(turnsAt).toEqual([1005]);
    advance(4);
    await yielder.pause();
    expect(yielder.yields).toBe(1);
    advance(1);
    await yielder.pause();
    expect(turnsAt).toEqual([1005, 1010]);
  });

  it('never lets more than one unit of work run past the budget without a turn', async () => {
    const { yielder, turnsAt, advance } = fixture(5);
    // 1000 units of 0.7 ms: a turn at least every ceil(5 / 0.7) = 8 units, i.e. under 5.6 ms apart.
    let last = 1000;
    let longest = 0;
    for (let i = 0; i < 1000; i += 1) {
      advance(0.7);
      const before = turnsAt.length;
      await yielder.pause();
      if (turnsAt.length > before) {
        longest = Math.max(longest, (turnsAt.at(-1) as number) - last);
        last = turnsAt.at(-1) as number;
      }
    }
    expect(longest).toBeLessThan(5 + 0.7 + 1e-9);
    expect(turnsAt.length).toBe(Math.floor(700 / 5.6));
  });

  it('shares one budget between concurrent loops, and lets each go on by at least one unit per turn', async () => {
    // A fake event loop: each iteration resumes every loop waiting for a turn, and records how
    // long the loops then held it (on the fake clock) before all of them waited again.
    let now = 1000;
    let waiting: Array<() => void> = [];
    const yielder = createEventLoopYielder({
      budgetMs: 5,
      nowMs: () => now,
      yieldTurn: () => new Promise<void>((resume) => waiting.push(resume)),
    });
    const done: string[] = [];
    const run = async (name: string, units: number) => {
      for (let i = 0; i < units; i += 1) {
        if (i > 0) await yielder.pause();
        now += 2;
      }
      done.push(name);
    };
    const drain = () => new Promise((ok) => setImmediate(ok));
    const all = Promise.all([run('long', 40), run('short', 4), run('medium', 8)]);
    const held: number[] = [];
    let from = now;
    await drain();
    while (waiting.length) {
      held.push(now - from);
      from = now;
      const turn = waiting;
      waiting = [];
      for (const resume of turn) resume();
      await drain();
    }
    held.push(now - from);
    await all;
    // Together they hold the loop for the budget plus one 2 ms unit each, not a budget each.
    expect(Math.max(...held.slice(1))).toBeLessThanOrEqual(5 + 2 * 3);
    // The shorter loops are not starved until the long one ends.
    expect(done).toEqual(['short', 'medium', 'long']);
  });

  it('gives a real event-loop turn by default: a due timer runs inside a long loop', async () => {
    const yielder = createEventLoopYielder({ budgetMs: 1 });
    let timerRan = false;
    setTimeout(() => {
      timerRan = true;
    }, 0);
    const until = performance.now() + 30;
    while (!timerRan && performance.now() < until) await yielder.pause();
    expect(timerRan).toBe(true);
  });
});
