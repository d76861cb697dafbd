// Group commit: the writes submitted during one event-loop turn reach Redis as one script call.
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StoreUnavailable } from '../domain/errors.ts';

/**
 * One write in a batch: `op` names a Lua function registered with `register`, called as
 * `fn(KEYS, ARGV)` with this write's own keys and arguments (so an op's body reads like a script's).
 * An op may leave a closure in the table `after[<name>]`: after the batch's last op, each closure
 * left there runs once (a chain head moves once per batch, not once per record).
 */
export interface BatchedWrite {
  readonly op: string;
  readonly keys: readonly string[];
  /** Built when the batch is sent, in submission order: a hash chain seals its records here. */
  readonly args: () => readonly string[];
  /**
   * Called when the write's call failed, before any later call is built: a failed call may or may
   * not have run, so a chain must not be sealed on top of it.
   */
  readonly failed?: () => void;
}

export interface WriteBatch {
  /** Registers an op's Lua function (`function(KEYS, ARGV) ... end`); the same text twice is a no-op. */
  register(op: string, fn: string): void;
  /** Queues the write for this turn's batch; resolves with what the op returned (Lua nil as 0). */
  submit(write: BatchedWrite): Promise<unknown>;
}

interface Pending {
  readonly write: BatchedWrite;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
}

/** Ops per call: bounds a script's run time, during which Redis serves nobody else. */
const MAX_BATCH = 256;

/**
 * Runs the ops in ARGV order. ARGV holds, per write: op name, key count, argument count, keys, arguments.
 * Keys travel in ARGV, so the batch is not Redis Cluster safe (nor was the decision log's append).
 */
const DISPATCH_LUA = `
local out = {}
local i = 1
while i <= #ARGV do
  local op, nk, na = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local keys, argv = {}, {}
  for j = 1, nk do keys[j] = ARGV[i + 2 + j] end
  for j = 1, na do argv[j] = ARGV[i + 2 + nk + j] end
  out[#out + 1] = ops[op](keys, argv) or 0
  i = i + 3 + nk + na
end
for _, f in pairs(after) do f() end
return out
`;

type BatchCall = (...argv: string[]) => Promise<unknown[]>;

const batches = new WeakMap<Redis, WriteBatch>();

/**
 * The connection's write batch, one per connection and shared by every store on it. Writes go out
 * in submission order: a turn's writes are sent once the loop has polled for I/O (setImmediate),
 * one call in flight at a time, and what arrives meanwhile goes as soon as that call answers. So a
 * write never lands before one submitted earlier, and writes submitted together in one turn share
 * one atomic call (up to MAX_BATCH). A failed call may or may not have run; every write in it is
 * rejected.
 */
export function writeBatchOf(redis: Redis): WriteBatch {
  let batch = batches.get(redis);
  if (!batch) {
    batch = createWriteBatch(redis);
    batches.set(redis, batch);
  }
  return batch;
}

function createWriteBatch(redis: Redis): WriteBatch {
  const ops = new Map<string, string>();
  let call: BatchCall | undefined;
  let queue: Pending[] = [];
  let flushing = false;
  let scheduled = false;

  /** The script for the ops registered so far, defined under a name that changes with its text. */
  const script = (): BatchCall => {
    if (call) return call;
    const lua = `local ops, after = {}, {}\n${[...ops].map(([name, fn]) => `ops[${JSON.stringify(name)}] = ${fn}`).join('\n')}\n${DISPATCH_LUA}`;
    const name = `mandateWriteBatch_${createHash('sha1').update(lua).digest('hex').slice(0, 12)}`;
    const scripted = redis as unknown as Record<string, BatchCall | undefined>;
    if (typeof scripted[name] !== 'function') redis.defineCommand(name, { numberOfKeys: 0, lua });
    const defined = scripted[name] as BatchCall;
    call = (...argv) => defined.apply(redis, argv);
    return call;
  };

  const flush = async () => {
    if (flushing || queue.length === 0) return;
    flushing = true;
    const taken = queue.slice(0, MAX_BATCH);
    queue = queue.slice(taken.length);
    const argv: string[] = [];
    const sent: Pending[] = [];
    for (const p of taken) {
      let args: readonly string[];
      try {
        args = p.write.args();
      } catch (err) {
        p.reject(err);
        continue;
      }
      argv.push(p.write.op, String(p.write.keys.length), String(args.length), ...p.write.keys, ...args);
      sent.push(p);
    }
    try {
      if (sent.length) {
        const results = await script()(...argv);
        for (const [i, p] of sent.entries()) p.resolve(results[i]);
      }
    } catch (err) {
      for (const p of sent) p.write.failed?.();
      for (const p of sent) p.reject(new StoreUnavailable(err));
    } finally {
      flushing = false;
      if (queue.length) void flush();
    }
  };

  return {
    register(op, fn) {
      if (ops.get(op) === fn) return;
      ops.set(op, fn);
      call = undefined;
    },
    submit(write) {
      if (!ops.has(write.op)) return Promise.reject(new Error(`write op ${write.op} is not registered`));
      return new Promise((resolve, reject) => {
        queue.push({ write, resolve, reject });
        // After this turn's I/O: every request that arrived in the same turn shares one call.
        if (!flushing && !scheduled) {
          scheduled = true;
          setImmediate(() => {
            scheduled = false;
            void flush();
          });
        }
      });
    },
  };
}
