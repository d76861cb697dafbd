// The policy set in force in this process: loaded from the store, replaced on change everywhere.
import type { PolicyDecider } from '../domain/policy-facts.ts';
import type { PolicySource } from '../domain/ports.ts';
import {
  type CompiledPolicySet,
  compilePolicySet,
  type PolicyProblem,
} from '../policy/cedar-policy-set.ts';
import type { EventBus } from '../store/redis-event-bus.ts';
import type { PolicyStore, StoredPolicy } from '../store/redis-policy-store.ts';

export interface PolicyRegistry extends PolicySource {
  /** Loads the stored set (seeding it with `defaultText` when Redis has none). */
  load(defaultText: string, nowSec: number): Promise<void>;
  /** Validates and stores a new set; every process switches to it. The old set stays on failure. */
  replace(
    text: string,
    nowSec: number,
  ): Promise<{ ok: true; version: number } | { ok: false; problems: PolicyProblem[] }>;
  /** Compiles a candidate without storing it (for dry runs). */
  candidate(
    text: string,
  ): { ok: true; set: CompiledPolicySet } | { ok: false; problems: PolicyProblem[] };
  /** Re-reads the store when its version moved (missed events, periodic check). */
  refresh(): Promise<void>;
  stored(): StoredPolicy | undefined;
  readonly loaded: boolean;
}

export function createPolicyRegistry(
  store: PolicyStore,
  bus: EventBus,
  schema: string,
  opts: { cacheEntries?: number } = {},
): PolicyRegistry {
  let current: CompiledPolicySet | undefined;
  let storedPolicy: StoredPolicy | undefined;

  const install = (stored: StoredPolicy) => {
    if (current && current.version >= stored.version) return;
    const compiled = compilePolicySet(stored.text, schema, stored.version, opts);
    // A stored set that no longer compiles (schema changed underneath it) keeps the old one in force.
    if (!compiled.ok)
      throw new Error(
        `stored policy version ${stored.version} does not compile: ${compiled.problems[0]?.message}`,
      );
    current = compiled.set;
    storedPolicy = stored;
  };

  const refresh = async () => {
    const version = await store.version();
    if (current && version <= current.version) return;
    const stored = await store.get();
    if (stored) install(stored);
  };

  bus.subscribe((e) => {
    if (e.type === 'policy' && (!current || e.version > current.version))
      void refresh().catch(() => undefined);
  });

  return {
    get loaded() {
      return current !== undefined;
    },
    current(): PolicyDecider {
      if (!current) throw new Error('no policy set loaded');
      return current;
    },
    stored: () => storedPolicy,
    refresh,
    async load(defaultText, nowSec) {
      const stored = await store.get();
      if (stored) return install(stored);
      const check = compilePolicySet(defaultText, schema, 0);
      if (!check.ok)
        throw new Error(
          `default policy set does not compile: line ${check.problems[0]?.line}: ${check.problems[0]?.message}`,
        );
      await store.seed(defaultText, nowSec);
      await refresh();
    },
    async replace(text, nowSec) {
      const check = compilePolicySet(text, schema, 0);
      if (!check.ok) return { ok: false, problems: check.problems };
      const version = await store.put(text, nowSec);
      await refresh();
      await bus.publish({ type: 'policy', version });
      return { ok: true, version };
    },
    candidate: (text) => compilePolicySet(text, schema, -1, opts),
  };
}
