// Cedar adapter: compiles a policy set once per version and decides pairs against it.
import './v8-flags.ts';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { PairDecision } from '../domain/decision.ts';
import type { Pair } from '../domain/intent.ts';
import {
  calendarOf,
  newActionOf,
  type PolicyDecider,
  type PolicyFacts,
  type PolicyReads,
} from '../domain/policy-facts.ts';
import type { CompiledPolicySet, PolicyProblem } from '../domain/policy-registry.ts';
import { memoizeDecider } from './memoize-decider.ts';
import { policyReads } from './policy-reads.ts';

export type { CompiledPolicySet, PolicyProblem } from '../domain/policy-registry.ts';

export type CompileResult =
  | { ok: true; set: CompiledPolicySet }
  | { ok: false; problems: PolicyProblem[] };

const REMEDY_APPROVAL = 'approval';
const NO_PERMIT = 'no-permit';
let compiled = 0;

/**
 * Parses and validates `text` against `schema`, then preparses it in Cedar's wasm once, so each
 * decision is a `statefulIsAuthorized` call. A second set without the `@remedy("approval")`
 * forbids tells whether a deny was theirs alone.
 */
export function compilePolicySet(
  text: string,
  schema: string,
  version: number,
  opts: { cacheEntries?: number } = {},
): CompileResult {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure')
    return { ok: false, problems: parts.errors.map((e) => problemAt(text, 0, e)) };
  if (parts.policy_templates.length > 0) {
    return {
      ok: false,
      problems: [{ message: 'policy templates are not supported', line: 1, column: 1 }],
    };
  }

  const byId: Record<string, string> = {};
  const offsets = new Map<string, number>();
  const remedy = new Set<string>();
  const forms: unknown[] = [];
  const problems: PolicyProblem[] = [];
  let cursor = 0;
  parts.policies.forEach((policy, index) => {
    const offset = text.indexOf(policy, cursor);
    cursor = offset >= 0 ? offset + policy.length : cursor;
    const json = cedar.policyToJson(policy);
    if (json.type === 'failure') {
      problems.push(...json.errors.map((e) => problemAt(text, Math.max(offset, 0), e)));
      return;
    }
    const id = json.json.annotations?.id ?? `policy${index}`;
    if (byId[id] !== undefined) {
      problems.push({
        ...lineCol(text, Math.max(offset, 0)),
        policy_id: id,
        message: `@id("${id}") is used twice`,
      });
      return;
    }
    byId[id] = policy;
    forms.push(json.json);
    offsets.set(id, Math.max(offset, 0));
    if (json.json.effect === 'forbid' && json.json.annotations?.remedy === REMEDY_APPROVAL)
      remedy.add(id);
  });
  if (problems.length) return { ok: false, problems };

  const validation = cedar.validate({ schema, policies: { staticPolicies: byId } });
  if (validation.type === 'failure')
    return { ok: false, problems: validation.errors.map((e) => problemAt(text, 0, e)) };
  if (validation.validationErrors.length > 0) {
    return {
      ok: false,
      problems: validation.validationErrors.map((v) => ({
        ...problemAt(text, offsets.get(v.policyId) ?? 0, v.error),
        policy_id: v.policyId,
      })),
    };
  }

  compiled += 1;
  const fullId = `v${version}.${compiled}`;
  const withoutRemedyId = `${fullId}.noremedy`;
  const full = cedar.preparsePolicySet(fullId, { staticPolicies: byId });
  if (full.type === 'failure')
    return { ok: false, problems: full.errors.map((e) => problemAt(text, 0, e)) };
  const reduced = Object.fromEntries(Object.entries(byId).filter(([id]) => !remedy.has(id)));
  cedar.preparsePolicySet(withoutRemedyId, { staticPolicies: reduced });

  const reads = policyReads(forms);
  const raw: PolicyDecider = {
    version,
    reads,
    decide(facts, pairs) {
      const entities = entitiesOf(facts);
      const base = baseContext(facts, reads);
      return pairs.map((pair) =>
        decidePair(pair, facts, entities, base, fullId, withoutRemedyId, remedy, reads),
      );
    },
  };
  // Exact answers shared between requests of this version (see memoizeDecider): 0 turns it off.
  const cacheEntries = opts.cacheEntries ?? 10_000;
  const decider = cacheEntries > 0 ? memoizeDecider(raw, { maxEntries: cacheEntries }) : raw;
  const set: CompiledPolicySet = {
    version,
    text,
    reads,
    ids: Object.keys(byId),
    decide: (facts, pairs) => decider.decide(facts, pairs),
  };
  return { ok: true, set };
}

function decidePair(
  pair: Pair,
  facts: PolicyFacts,
  entities: cedar.EntityJson[],
  base: Record<string, cedar.CedarValueJson>,
  fullId: string,
  withoutRemedyId: string,
  remedy: ReadonlySet<string>,
  reads: PolicyReads,
): PairDecision {
  // A policy that tells new actions apart is never decided on an unread history (see newActionOf).
  if (reads.leaves.has('usage.new_action') && facts.usage.used_actions === undefined) {
    return {
      pair,
      effect: 'deny',
      reasons: ['policy-error'],
      errors: ["usage.new_action: the agent's action history was not read"],
    };
  }
  const call: cedar.StatefulAuthorizationCall = {
    principal: { type: 'Agent', id: facts.agent.id },
    action: { type: 'Action', id: pair.action },
    resource: { type: 'Resource', id: pair.location },
    context: reads.attributes.has('usage') ? { ...base, usage: usageOf(facts, pair.action) } : base,
    preparsedPolicySetId: fullId,
    entities,
  };
  const answer = cedar.statefulIsAuthorized(call);
  if (answer.type === 'failure') {
    return {
      pair,
      effect: 'deny',
      reasons: ['policy-error'],
      errors: answer.errors.map((e) => e.message),
    };
  }
  const { decision, diagnostics } = answer.response;
  const errors = diagnostics.errors.length
    ? diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`)
    : undefined;
  // Cedar skips a policy that errors; a forbid that could not be evaluated must not let a request through.
  if (errors)
    return { pair, effect: 'deny', reasons: ['policy-error', ...diagnostics.reason], errors };
  if (decision === 'allow') return { pair, effect: 'permit', reasons: diagnostics.reason };
  const reasons = diagnostics.reason.length ? diagnostics.reason : [NO_PERMIT];
  if (diagnostics.reason.length > 0 && diagnostics.reason.every((id) => remedy.has(id))) {
    const again = cedar.statefulIsAuthorized({ ...call, preparsedPolicySetId: withoutRemedyId });
    if (again.type === 'success' && again.response.decision === 'allow')
      return { pair, effect: 'approval', reasons, errors };
  }
  return { pair, effect: 'deny', reasons, errors };
}

function entitiesOf(facts: PolicyFacts): cedar.EntityJson[] {
  return [
    {
      uid: { type: 'Agent', id: facts.agent.id },
      attrs: facts.agent.attributes as Record<string, cedar.CedarValueJson>,
      parents: facts.agent.groups.map((id) => ({ type: 'Group', id })),
    },
  ];
}

/**
 * The Cedar context, holding only what the policy reads: each attribute (above all the `ip`
 * extension value) costs time in every call, and one the policy never reads cannot change it.
 */
function baseContext(
  facts: PolicyFacts,
  { attributes }: PolicyReads,
): Record<string, cedar.CedarValueJson> {
  const context: Record<string, cedar.CedarValueJson> = {};
  if (attributes.has('now')) {
    const { hour, weekday } = calendarOf(facts.nowSec);
    context.now = { unix: facts.nowSec, hour, weekday };
  }
  if (attributes.has('task')) context.task = { id: facts.task.id, purpose: facts.task.purpose };
  if (attributes.has('datatypes')) context.datatypes = [...facts.datatypes];
  if (attributes.has('risk')) context.risk = facts.risk;
  if (attributes.has('approved')) context.approved = facts.approved;
  if (attributes.has('delegated')) context.delegated = facts.delegated;
  if (attributes.has('sender_constrained')) context.sender_constrained = facts.sender_constrained;
  if (attributes.has('signals')) context.signals = [...facts.signals];
  if (attributes.has('ip') && facts.ip) context.ip = { __extn: { fn: 'ip', arg: facts.ip } };
  // Optional in the schema: present only for a grant minted with a workload token.
  if (attributes.has('workload') && facts.workload) {
    const { issuer, subject, claims } = facts.workload;
    context.workload = { issuer, subject, claims: { ...claims } };
  }
  // Optional too: present only for a grant acting for a person.
  if (attributes.has('on_behalf_of') && facts.on_behalf_of) {
    const { issuer, sub, groups } = facts.on_behalf_of;
    context.on_behalf_of = { issuer, sub, groups: [...groups] };
  }
  // Optional too: present only for an evaluation whose resource exposed tool arguments.
  if (attributes.has('tool') && facts.tool)
    context.tool = { name: facts.tool.name, arguments: { ...facts.tool.arguments } };
  return context;
}

function usageOf(facts: PolicyFacts, action: string): cedar.CedarValueJson {
  return {
    calls_last_minute: facts.usage.calls_last_minute,
    denied_last_hour: facts.usage.denied_last_hour,
    // Unread by the policy when the history is (see decidePair): any value does.
    new_action: newActionOf(facts.usage, action) ?? false,
  };
}

function problemAt(text: string, base: number, error: cedar.DetailedError): PolicyProblem {
  const start = base + (error.sourceLocations?.[0]?.start ?? 0);
  const label = error.sourceLocations?.[0]?.label;
  const message = [error.message, label, error.help].filter(Boolean).join(': ');
  return { ...lineCol(text, start), message };
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/** A policy passing the whole context on: reads everything exactly. */
const READS_EVERYTHING = { conditions: [{ kind: 'when', body: { Var: 'context' } }] };

/**
 * What of the context the policies in `text` can tell apart (see policyReads), for tests and
 * tools. Text that does not parse counts as reading everything exactly.
 */
export function contextReads(text: string): PolicyReads {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') return policyReads([READS_EVERYTHING]);
  return policyReads(
    parts.policies.map((policy) => {
      const json = cedar.policyToJson(policy);
      return json.type === 'success' ? json.json : READS_EVERYTHING;
    }),
  );
}

/** Checks that a schema parses, for start-up. */
export function checkSchema(schema: string): string | undefined {
  const answer = cedar.checkParseSchema(schema);
  return answer.type === 'failure' ? answer.errors.map((e) => e.message).join('; ') : undefined;
}
