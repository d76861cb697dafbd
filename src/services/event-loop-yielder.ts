// Long CPU-bound loops sharing the API's process: hand the event loop back every few ms of work.
import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** CPU time loops may run before they let pending I/O and timers in (ms). */
export const DEFAULT_YIELD_BUDGET_MS = 5;

export interface EventLoopYielderOptions {
  /** Longest run of work between two turns of the event loop (ms). */
  readonly budgetMs?: number;
  /** A monotonic clock in ms; `performance.now` unless a test fixes it. */
  readonly nowMs?: () => number;
  /** Lets the event loop run once; a `setImmediate` turn unless a test records it. */
  readonly yieldTurn?: () => Promise<unknown>;
}

export interface EventLoopYielder {
  /**
   * Called between units of work: resolves at once while the budget since the last turn lasts,
   * otherwise after the next event-loop turn. The work itself is untouched, so a loop that awaits
   * this between units computes exactly what it computed without it.
   */
  pause(): Promise<void>;
  /** How many times `pause` waited for a turn. */
  readonly yields: number;
}

/**
 * Creates a yielder: one budget for every loop that shares it, so concurrent loops (a worker
 * running several batch jobs) hold the event loop for one budget together, not one each. Loops
 * waiting for the same turn share it, and each resumes with at least one unit of work, so none
 * starves. A `setImmediate` turn runs after the poll phase: requests whose bytes arrived meanwhile
 * (and due timers, on the next iteration) are served before the loops go on.
 */
export function createEventLoopYielder(opts: EventLoopYielderOptions = {}): EventLoopYielder {
  const budgetMs = opts.budgetMs ?? DEFAULT_YIELD_BUDGET_MS;
  const nowMs = opts.nowMs ?? (() => performance.now());
  const yieldTurn = opts.yieldTurn ?? (() => nextTurn());
  let sliceStartMs = nowMs();
  let turn: Promise<void> | undefined;
  let yields = 0;
  return {
    async pause() {
      if (nowMs() - sliceStartMs < budgetMs) return;
      yields += 1;
      turn ??= yieldTurn().then(() => {
        sliceStartMs = nowMs();
        turn = undefined;
      });
      await turn;
    },
    get yields() {
      return yields;
    },
  };
}
