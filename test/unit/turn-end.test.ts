// Held writes: a turn's writes to a socket leave together at the turn's end, between the work
// queued for that end and the work queued for after it.
import { Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  afterTurnWrites,
  atTurnEnd,
  holdWritesUntilTurnEnd,
  sendHeldWrites,
} from '../../src/store/turn-end.ts';

/** A socket stand-in that logs each write the OS would see (a writev counts once). */
function fakeSocket(events: string[]) {
  const socket = new Writable({
    write(chunk: Buffer, _enc, done) {
      events.push(`send ${chunk.toString()}`);
      done();
    },
    writev(chunks, done) {
      events.push(`send ${chunks.map((c) => String(c.chunk)).join('')}`);
      done();
    },
  });
  holdWritesUntilTurnEnd(socket);
  return socket;
}

describe('turn end', () => {
  it("sends a turn's writes as one, after the turn's end work and before the after work", async () => {
    const events: string[] = [];
    const socket = fakeSocket(events);
    afterTurnWrites(() => events.push('after'));
    socket.write('a');
    atTurnEnd(() => {
      events.push('end');
      socket.write('c');
    });
    socket.write('b');
    expect(events).toEqual([]);
    await nextTurn();
    expect(events).toEqual(['end', 'send abc', 'after']);
  });

  it('holds a write made in the after work for the next turn', async () => {
    const events: string[] = [];
    const socket = fakeSocket(events);
    afterTurnWrites(() => socket.write('late'));
    await nextTurn();
    expect(events).toEqual([]);
    await nextTurn();
    expect(events).toEqual(['send late']);
  });

  it('sendHeldWrites sends what is held at once, and later writes are held again', async () => {
    const events: string[] = [];
    const socket = fakeSocket(events);
    socket.write('held');
    socket.write('x');
    sendHeldWrites();
    expect(events).toEqual(['send heldx']);
    socket.write('y');
    socket.write('z');
    expect(events).toHaveLength(1);
    await nextTurn();
    expect(events).toEqual(['send heldx', 'send yz']);
  });

  it('still sends the held writes when a task throws', async () => {
    const events: string[] = [];
    const socket = fakeSocket(events);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.prependListener('uncaughtException', onUncaught);
    try {
      socket.write('kept');
      atTurnEnd(() => {
        throw new Error('task failed');
      });
      atTurnEnd(() => events.push('next task'));
      await nextTurn();
      await nextTurn();
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
    expect(events).toEqual(['next task', 'send kept']);
    expect(String(uncaught[0])).toMatch(/task failed/);
  });
});
