// The end of a turn: end-of-turn work runs once per turn, the tasks it queues included.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { atTurnEnd } from '../../src/store/turn-end.ts';

describe('turn end', () => {
  it("runs the turn's end work in one pass, its own queued tasks included", async () => {
    const events: string[] = [];
    atTurnEnd(() => {
      events.push('end 1');
      atTurnEnd(() => events.push('end 3'));
    });
    atTurnEnd(() => events.push('end 2'));
    expect(events).toEqual([]);
    await nextTurn();
    await nextTurn();
    expect(events).toEqual(['end 1', 'end 2', 'end 3']);
  });

  it('still runs the other tasks when one throws, and surfaces the error', async () => {
    const events: string[] = [];
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      atTurnEnd(() => {
        throw new Error('task failed');
      });
      atTurnEnd(() => events.push('next task'));
      await nextTurn();
      await nextTurn();
      await nextTurn();
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
    expect(events).toEqual(['next task']);
    expect(String(uncaught[0])).toMatch(/task failed/);
  });
});
