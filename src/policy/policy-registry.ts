// The policy set in force in this process: loaded from the store, replaced on change everywhere.
import type { EventBus } from '../domain/event-bus.ts';
import type { PolicyDecider } from '../domain/policy-facts.ts';
import type { CompiledPolicySet, PolicyRegistry } from '../domain/policy-registry.ts';
import type { PolicyStore, StoredPolicy } from '../domain/policy-store.ts';
import { compilePolicySet } from './cedar-policy-set.ts';

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
