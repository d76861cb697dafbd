// The policy set in force in this process: loaded from the store, replaced on change everywhere, recompiled when registered actions change.
import type { EventBus } from '../domain/event-bus.ts';
import type { PolicyDecider } from '../domain/policy-facts.ts';
import {
  type CompiledPolicySet,
  type PolicyProblem,
  type PolicyRegistry,
  PolicySetInvalid,
} from '../domain/policy-registry.ts';
import type { PolicyStore, StoredPolicy } from '../domain/policy-store.ts';
import type { ClientStore } from '../domain/ports.ts';
import { compilePolicySet } from './cedar-policy-set.ts';
import { declaredActions, effectiveSchema } from './effective-schema.ts';

export interface PolicyRegistryOptions {
  readonly cacheEntries?: number;
  /**
   * Where resource clients' registered actions are read (their `actions` join the schema). Read
   * whole at load, then one client at a time as its change event arrives on the bus.
   */
  readonly clients?: Pick<ClientStore, 'get' | 'list'>;
  /**
   * The clients the config file lists: their actions count from the first load, so the policy
   * files may name them on a first start (the file is seeded into the store only after the load).
   */
  readonly configuredClients?: ReadonlyArray<{
    readonly client_id: string;
    readonly actions?: readonly string[] | undefined;
  }>;
}

export function createPolicyRegistry(
  store: PolicyStore,
  bus: EventBus,
  fileSchema: string,
  opts: PolicyRegistryOptions = {},
): PolicyRegistry {
  let current: CompiledPolicySet | undefined;
  let storedPolicy: StoredPolicy | undefined;
  const declared = declaredActions(fileSchema);
  const actionsByClient = new Map<string, readonly string[]>();
  let schema = fileSchema;
  const compileOpts = { cacheEntries: opts.cacheEntries };

  const registered = (replace?: { id: string; actions: readonly string[] }) => {
    const all: string[] = [];
    for (const [id, actions] of actionsByClient) if (id !== replace?.id) all.push(...actions);
    if (replace) all.push(...replace.actions);
    return all;
  };

  /** Rebuilds the schema from the registered actions; the set in force is compiled again under it. */
  const applySchema = () => {
    const next = effectiveSchema(fileSchema, declared, registered());
    if (next === schema) return;
    schema = next;
    if (!current) return;
    // A set that no longer validates (an action it names went away) stays in force as compiled.
    const again = compilePolicySet(current.text, schema, current.version, compileOpts);
    if (again.ok) current = again.set;
  };

  const noteClient = (id: string, actions: readonly string[] | undefined) => {
    if (actions?.length) actionsByClient.set(id, actions);
    else actionsByClient.delete(id);
  };

  const install = (stored: StoredPolicy) => {
    if (current && current.version >= stored.version) return;
    const compiled = compilePolicySet(stored.text, schema, stored.version, compileOpts);
    // A stored set that no longer compiles (schema changed underneath it) keeps the old one in force.
    if (!compiled.ok)
      throw new PolicySetInvalid(
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

  const loadActions = async () => {
    if (!opts.clients) return;
    actionsByClient.clear();
    for (const c of await opts.clients.list()) noteClient(c.client_id, c.actions);
    for (const c of opts.configuredClients ?? []) noteClient(c.client_id, c.actions);
    applySchema();
  };

  bus.subscribe((e) => {
    if (e.type === 'policy' && (!current || e.version > current.version))
      void refresh().catch(() => undefined);
    if (e.type === 'client' && opts.clients)
      void opts.clients
        .get(e.id)
        .then((c) => {
          noteClient(e.id, c?.actions);
          applySchema();
        })
        .catch(() => undefined);
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
      await loadActions();
      const stored = await store.get();
      if (stored) return install(stored);
      const check = compilePolicySet(defaultText, schema, 0);
      if (!check.ok)
        throw new PolicySetInvalid(
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
    candidate: (text) => compilePolicySet(text, schema, -1, compileOpts),
    actionsProblems(clientId, actions): PolicyProblem[] {
      if (!current) return [];
      const trial = effectiveSchema(fileSchema, declared, registered({ id: clientId, actions }));
      const check = compilePolicySet(current.text, trial, -1, { cacheEntries: 0 });
      return check.ok ? [] : check.problems;
    },
    noteActions(clientId, actions) {
      noteClient(clientId, actions);
      applySchema();
    },
    knownActions: () => [...new Set([...declared, ...registered()])].sort(),
  };
}
