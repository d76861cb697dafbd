// The end of an event-loop turn: where Redis writes of every request handled in the turn leave together.
import type { Writable } from 'node:stream';

const work: Array<() => void> = [];
const after: Array<() => void> = [];
const corked = new Set<Writable>();
let scheduled = false;

/**
 * Runs `task` at the end of this event-loop turn (in one immediate, queued by the turn's first
 * task or held write), before the held writes are sent and before the after-write work (see
 * afterTurnWrites). Tasks queued by a task run in the same pass.
 */
export function atTurnEnd(task: () => void): void {
  work.push(task);
  schedule();
}

/**
 * Runs `task` at the end of this event-loop turn, once the held writes have been sent: CPU work
 * placed here (a signature) overlaps Redis running the turn's commands instead of delaying them.
 */
export function afterTurnWrites(task: () => void): void {
  after.push(task);
  schedule();
}

/**
 * Holds the socket's writes until the end of the turn (see atTurnEnd), then sends them as one.
 * On loopback every write costs the sender the receiver's TCP work and Redis' wake-up, which made
 * sending commands one by one a large part of the broker's CPU per request.
 */
export function holdWritesUntilTurnEnd(socket: Writable): void {
  const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
  socket.write = ((...args: unknown[]) => {
    if (!corked.has(socket)) {
      corked.add(socket);
      socket.cork();
      schedule();
    }
    return write(...args);
  }) as typeof socket.write;
}

/**
 * Sends every write held so far in this turn now, in one socket write per connection, instead of
 * at the turn's end: for the decision log's append, which other writes wait behind, and when
 * chained from the previous append's reply mid-turn, where holding would only keep Redis idle.
 */
export function sendHeldWrites(): void {
  for (const socket of corked) socket.uncork();
  corked.clear();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(endTurn);
}

function endTurn(): void {
  runAll(work);
  scheduled = false;
  sendHeldWrites();
  // A write made from here on is held for the next turn's end.
  runAll(after);
}

/** Runs the tasks in order, those they queue included, and empties the list. */
function runAll(tasks: Array<() => void>): void {
  for (let i = 0; i < tasks.length; i++) {
    try {
      tasks[i]?.();
    } catch (err) {
      // Surfaces as an uncaught exception, as it would from its own immediate.
      queueMicrotask(() => {
        throw err;
      });
    }
  }
  tasks.length = 0;
}
