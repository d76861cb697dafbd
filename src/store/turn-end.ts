// The end of an event-loop turn: where the decision log's group commit runs.

const work: Array<() => void> = [];
let scheduled = false;

/**
 * Runs `task` at the end of this event-loop turn (in one immediate, queued by the turn's first
 * task). Tasks queued by a task run in the same pass. The request-path Redis client pipelines
 * automatically (ioredis' enableAutoPipelining): the commands a pass issues leave together.
 */
export function atTurnEnd(task: () => void): void {
  work.push(task);
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
