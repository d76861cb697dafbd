// Task intents: the RFC 9396 `agent_task` authorization_details type, its pairs, and narrowing.
import { z } from 'zod';
import type { AgentTask } from './agent-task.ts';
import { OAuthError } from './errors.ts';
import type { JsonLimits } from './json-bounds.ts';

export type { AgentTask } from './agent-task.ts';
export { allowsPair } from './agent-task.ts';

/** Largest grant lifetime any request, client or config may ask for (seconds). */
export const MAX_GRANT_TTL_SEC = 86_400;

const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'must be a name of letters, digits and _ . : -');

const Location = z
  .string()
  .min(1)
  .max(512)
  .refine((v) => URL.canParse(v), 'must be an absolute URI');

const Short = z.string().min(1).max(200);

/** Most actions one agent_task entry names (a longer list takes several entries). */
export const MAX_ACTIONS_PER_TASK = 32;

/** One `agent_task` entry of `authorization_details` (RFC 9396 section 2). */
export const AgentTaskSchema = z
  .object({
    type: z.literal('agent_task'),
    task_id: Short,
    purpose: z.string().max(500).optional(),
    actions: z.array(Name).min(1).max(MAX_ACTIONS_PER_TASK),
    locations: z.array(Location).min(1).max(32),
    datatypes: z.array(Short).max(32).optional(),
    steps: z.array(Name).max(32).optional(),
    ttl: z.number().int().positive().max(MAX_GRANT_TTL_SEC).optional(),
  })
  .strict() satisfies z.ZodType<AgentTask>;
// The schema's output and the plain AgentTask are one type: a change to either fails here.
const SAME_AGENT_TASK: AgentTask extends z.infer<typeof AgentTaskSchema> ? true : never = true;
void SAME_AGENT_TASK;

/** The whole `authorization_details` parameter: entries of one task. */
export const AuthorizationDetailsSchema = z
  .array(AgentTaskSchema)
  .min(1)
  .max(16)
  .refine((entries) => new Set(entries.map((e) => e.task_id)).size === 1, {
    message: 'all entries must name the same task_id',
  });

/**
 * The JSON shape any valid `authorization_details` fits in (an array of flat entries whose
 * members are strings, numbers or arrays of strings), checked on the parsed value before the
 * schema: a value nested or sized beyond it is refused without being walked any further.
 */
export const AUTHORIZATION_DETAILS_JSON_LIMITS: JsonLimits = {
  maxDepth: 3,
  maxNodes: 16 * (1 + 8 + 4 * 33),
  maxMembers: 32,
  maxStringLength: 512,
};

/** One (action, location) pair that policy decides. `entry` indexes the requested entries. */
export interface Pair {
  readonly entry: number;
  readonly action: string;
  readonly location: string;
}

/** Every distinct (action, location) pair of the entries, in request order. */
export function pairsOf(entries: readonly AgentTask[]): Pair[] {
  const seen = new Set<string>();
  const pairs: Pair[] = [];
  entries.forEach((e, entry) => {
    for (const action of e.actions) {
      for (const location of e.locations) {
        const key = `${entry}\u0000${action}\u0000${location}`;
        if (seen.has(key)) continue;
        seen.add(key);
        pairs.push({ entry, action, location });
      }
    }
  });
  return pairs;
}

/**
 * How many pairs an intent costs, as configured: every pair is one policy decision per mint,
 * refresh and sweep, and part of every record and token, so a request pays for what it sends.
 */
export interface IntentLimits {
  /** Pairs one request may ask policy to decide (mint, elevation). */
  readonly maxPairsPerRequest: number;
  /** Pairs one grant may hold: a request that would create or replace a grant beyond it is refused. */
  readonly maxPairsPerGrant: number;
}

/** How many pairs `pairsOf(entries)` yields, counted without building them. */
export function pairCount(entries: readonly AgentTask[]): number {
  let count = 0;
  for (const e of entries) count += new Set(e.actions).size * new Set(e.locations).size;
  return count;
}

/**
 * Why an intent that would be decided and stored as a grant is too large, or undefined when it
 * is within the limits. Checked before any policy decision, so a refused request costs nothing.
 */
export function intentOverLimits(
  entries: readonly AgentTask[],
  limits: IntentLimits,
): string | undefined {
  const count = pairCount(entries);
  if (count > limits.maxPairsPerRequest) {
    return `asks for ${count} (action, location) pairs; at most ${limits.maxPairsPerRequest} per request`;
  }
  if (count > limits.maxPairsPerGrant) {
    return `asks for ${count} (action, location) pairs; a grant holds at most ${limits.maxPairsPerGrant}`;
  }
  return undefined;
}

/**
 * Rebuilds entries holding exactly the permitted pairs. An entry whose pairs are only partly
 * permitted is split into entries whose actions share one set of locations, so the result says
 * exactly what was granted and never more. Entries with no permitted pair disappear.
 */
export function narrowEntries(
  entries: readonly AgentTask[],
  permitted: readonly Pair[],
): AgentTask[] {
  const out: AgentTask[] = [];
  entries.forEach((e, index) => {
    const byAction = new Map<string, string[]>();
    for (const p of permitted) {
      if (p.entry !== index) continue;
      const locs = byAction.get(p.action) ?? [];
      if (!locs.includes(p.location)) locs.push(p.location);
      byAction.set(p.action, locs);
    }
    const groups = new Map<string, { actions: string[]; locations: string[] }>();
    for (const action of e.actions) {
      const locs = byAction.get(action);
      if (!locs) continue;
      const ordered = e.locations.filter((l) => locs.includes(l));
      if (ordered.length === 0) continue;
      const key = ordered.join('\u0000');
      const group = groups.get(key) ?? { actions: [], locations: ordered };
      if (!group.actions.includes(action)) group.actions.push(action);
      groups.set(key, group);
    }
    for (const g of groups.values()) out.push({ ...e, actions: g.actions, locations: g.locations });
  });
  return out;
}

/** True when every pair of `inner` is also a pair of `outer` (task ids aside). */
export function isWithin(inner: readonly AgentTask[], outer: readonly AgentTask[]): boolean {
  const allowed = new Set(pairsOf(outer).map((p) => `${p.action}\u0000${p.location}`));
  return pairsOf(inner).every((p) => allowed.has(`${p.action}\u0000${p.location}`));
}

/** The distinct locations of the entries: the token's audience. */
export function audienceOf(entries: readonly AgentTask[]): string[] {
  return [...new Set(entries.flatMap((e) => e.locations))];
}

/** The distinct actions of the entries: the token's `scope`. */
export function scopeOf(entries: readonly AgentTask[]): string {
  return [...new Set(entries.flatMap((e) => e.actions))].join(' ');
}

/** The distinct datatypes the entries name. */
export function datatypesOf(entries: readonly AgentTask[]): string[] {
  return [...new Set(entries.flatMap((e) => e.datatypes ?? []))];
}

/** The scope prefix of an MCP tool: `tools:search_tickets` asks for the action `search_tickets`. */
export const TOOL_SCOPE_PREFIX = 'tools:';

/**
 * The actions a `scope` names: each value is an action, and `tools:<name>` (an MCP tool's scope)
 * names the action `<name>`; repeats count once. An empty `tools:` is invalid_scope.
 */
export function actionsOfScope(scope: string | undefined): string[] | undefined {
  const values = scope?.split(' ').filter(Boolean);
  if (!values) return undefined;
  const actions = values.map((v) =>
    v.startsWith(TOOL_SCOPE_PREFIX) ? v.slice(TOOL_SCOPE_PREFIX.length) : v,
  );
  if (actions.includes('')) throw new OAuthError('invalid_scope', 'scope: tools: must name a tool');
  return [...new Set(actions)];
}
