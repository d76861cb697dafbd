// The Lua scripts in this folder, read once at module load with their `--@include` lines resolved, and how a connection runs them.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';

/**
 * A script file is `<name>-<nkeys>.lua` (BullMQ's layout), or `<name>.lua` for a script whose key
 * count varies (the caller passes it first); its ioredis command is `mandate<Name>`.
 * A line `--@include <file>` is replaced by `includes/<file>.lua`, once per script (an include
 * may include others). Read beside this module, so it works from src/ (tsx) and from dist/ (the
 * build copies the .lua files).
 */
const DIR = new URL('./', import.meta.url);
const SCRIPT_FILE = /^([a-zA-Z]+)(?:-(\d+))?\.lua$/;
const INCLUDE_LINE = /^--@include\s+([a-zA-Z]+)\s*$/gm;

export interface Script {
  /** The ioredis command name, `mandate<Name>`. */
  readonly command: string;
  /** Undefined where the key count varies: the command then takes it as its first argument. */
  readonly numberOfKeys: number | undefined;
  /** The script text with its includes in place. */
  readonly lua: string;
  /** SHA-1 of `lua`: what EVALSHA names it by. */
  readonly sha: string;
}

const readText = (path: string) => readFileSync(new URL(path, DIR), 'utf8');

function withIncludes(text: string, seen: Set<string>, from: string): string {
  return text.replace(INCLUDE_LINE, (_line, name: string) => {
    if (seen.has(name)) return '';
    seen.add(name);
    let included: string;
    try {
      included = readText(`includes/${name}.lua`);
    } catch (err) {
      throw new Error(`${from}: --@include ${name}: no includes/${name}.lua`, { cause: err });
    }
    return withIncludes(included, seen, `includes/${name}.lua`);
  });
}

function loadScripts(): ReadonlyMap<string, Script> {
  const out = new Map<string, Script>();
  for (const file of readdirSync(DIR).sort()) {
    const m = SCRIPT_FILE.exec(file);
    if (!m) continue;
    const [, name = '', nkeys] = m;
    const lua = withIncludes(readText(file), new Set(), file);
    out.set(name, {
      command: `mandate${name[0]?.toUpperCase()}${name.slice(1)}`,
      numberOfKeys: nkeys === undefined ? undefined : Number(nkeys),
      lua,
      sha: createHash('sha1').update(lua).digest('hex'),
    });
  }
  return out;
}

/** Every script by its name (the file name without `-<nkeys>.lua`). */
export const SCRIPTS = loadScripts();

/** The script `name`; throws on a name with no file, so a typo fails at startup. */
export function script(name: string): Script {
  const found = SCRIPTS.get(name);
  if (!found) throw new Error(`no Lua script ${name}[-<nkeys>].lua in src/store/scripts`);
  return found;
}

/**
 * Gives the connection the named scripts as `mandate<Name>` methods: EVALSHA, and EVAL once when
 * Redis answers NOSCRIPT (a restarted or promoted server has an empty script cache). Not ioredis'
 * `defineCommand`: every pipeline ioredis builds (one per event-loop turn with auto-pipelining)
 * copies each defined command onto itself, which cost more CPU than the rest of an introspection's
 * Redis client work together (docs/performance.md, "Scripts without defineCommand").
 */
export function defineScripts(redis: Redis | Cluster, ...names: string[]): void {
  const methods = redis as unknown as Record<string, unknown>;
  for (const name of names) {
    const found = script(name);
    if (typeof methods[found.command] !== 'function')
      Object.defineProperty(redis, found.command, {
        value: scriptRunner(redis, found),
        writable: true,
        configurable: true,
      });
  }
}

function scriptRunner(redis: Redis | Cluster, { numberOfKeys, lua, sha }: Script) {
  return (...args: (string | number | Buffer)[]): Promise<unknown> => {
    const keysAndArgs = numberOfKeys === undefined ? args : [numberOfKeys, ...args];
    return redis.evalsha(sha, ...(keysAndArgs as [number, ...string[]])).catch((err: unknown) => {
      if (!isNoScript(err)) throw err;
      return redis.eval(lua, ...(keysAndArgs as [number, ...string[]]));
    });
  };
}

const isNoScript = (err: unknown) => err instanceof Error && err.message.startsWith('NOSCRIPT');

/** Queues the script on a pipeline or transaction as EVAL (which also loads it): a queued EVALSHA cannot fall back. */
export function queueScript(pipeline: ChainableCommander, name: string, ...args: string[]): void {
  const { numberOfKeys, lua } = script(name);
  if (numberOfKeys === undefined) {
    const [count = '0', ...rest] = args;
    pipeline.eval(lua, count, ...rest);
  } else pipeline.eval(lua, numberOfKeys, ...args);
}
