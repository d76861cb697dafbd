// The end of an event-loop turn: where the decision log's group commit runs, and where CPU work waits for the turn's Redis commands to leave.

const work: Array<() => void> = [];
const after: Array<() => void> = [];
let scheduled = false;
let afterScheduled = false;

/**
 * Runs `task` at the end of this event-loop turn (in one immediate, queued by the turn's first
 * task), before the after-write work (see afterTurnWrites). Tasks queued by a task run in the same
 * pass. The request-path Redis client pipelines automatically (ioredis' enableAutoPipelining): the
 * commands a pass issues leave together once it ends.
 */
export function atTurnEnd(task: () => void): void {
  work.push(task);
  schedule();
}

/**
 * Runs `task` once the end-of-turn work has run and the commands it issued have been sent: in the
 * immediate after the end-of-turn one (ioredis sends its pipeline on process.nextTick, which runs
 * between two immediates). CPU work placed here (a signature) overlaps Redis running the turn's
 * commands instead of delaying them.
 */
export function afterTurnWrites(task: () => void): void {
  after.push(task);
  schedule();
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  setImmediate(endTurn);
}

function endTurn(): void {
  scheduled = false;
  runAll(work);
  if (after.length > 0 && !afterScheduled) {
    afterScheduled = true;
    setImmediate(endAfter);
  }
}

function endAfter(): void {
  afterScheduled = false;
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
