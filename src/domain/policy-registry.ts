// Port: the policy set in force in this process, and how an admin replaces or tries another.
import type { PolicyDecider } from './policy-facts.ts';
import type { StoredPolicy } from './policy-store.ts';
import type { PolicySource } from './ports.ts';

/** A policy that does not parse or validate, located in the submitted text (1-based). */
/** The policy set to load does not compile under the schema in force: a configuration fault, not an outage. */
export class PolicySetInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicySetInvalid';
  }
}

export interface PolicyProblem {
  readonly policy_id?: string | undefined;
  readonly message: string;
  readonly line: number;
  readonly column: number;
}

/** A policy set compiled for deciding, with the text it came from. */
export interface CompiledPolicySet extends PolicyDecider {
  readonly text: string;
  /** Policy ids in order: the `@id` annotation, or `policyN`. */
  readonly ids: readonly string[];
}

export interface PolicyRegistry extends PolicySource {
  /** Loads the stored set (seeding it with `defaultText` when Redis has none). */
  load(defaultText: string, nowSec: number): Promise<void>;
  /** Validates and stores a new set; every process switches to it. The old set stays on failure. */
  replace(
    text: string,
    nowSec: number,
  ): Promise<{ ok: true; version: number } | { ok: false; problems: PolicyProblem[] }>;
  /**
   * The problems the policy set in force would have if `clientId` registered `actions` instead
   * of what it registers now (an action the set names going away); empty when it would compile.
   */
  actionsProblems(clientId: string, actions: readonly string[]): PolicyProblem[];
  /**
   * Records a client's registered actions in this process at once (the admin service, after it
   * stored the client), so this process's next validation sees them; other processes learn of
   * them from the client's change event.
   */
  noteActions(clientId: string, actions: readonly string[] | undefined): void;
  /** Every action registered by resource clients and declared in the schema, sorted. */
  knownActions(): readonly string[];
  /** Compiles a candidate without storing it (for dry runs). */
  candidate(
    text: string,
  ): { ok: true; set: CompiledPolicySet } | { ok: false; problems: PolicyProblem[] };
  /** Re-reads the store when its version moved (missed events, periodic check). */
  refresh(): Promise<void>;
  stored(): StoredPolicy | undefined;
  readonly loaded: boolean;
}
