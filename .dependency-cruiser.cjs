// Layer rules of ../shared/STYLE.md "Shape", checked by `npm run depcheck` (and so by CI):
//   main/deps -> http, worker -> services -> domain; store, crypto, policy implement domain's ports.
// Each exception below names the file it lets through and why; add none without a reason.
// dependency-cruiser cannot use TypeScript 7's compiler, so it parses with swc (@swc/core).

/** Our own layers, as path patterns. */
const SRC = '^src/';
const DOMAIN = '^src/domain/';
const ADAPTERS = '^src/(store|crypto|policy)/';

/**
 * Exception (randomness, not an adapter): crypto/random-id.ts is a pooled CSPRNG helper over
 * node:crypto (no jose, no keys, no I/O). Services and the decision log draw ids from it;
 * turning it into a port would touch every minting service for no change in behaviour.
 */
const RANDOM_ID = '^src/crypto/random-id[.]ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycles in src. Exception: http/rate-limit.ts <-> http/http-deps.ts (HttpDeps ' +
        'names the rate-limit options, rate-limit reads the client address from http-deps); it ' +
        'goes when the rate limiter moves into the per-format sub-apps (issue 24 items 2 and 5).',
      from: { path: SRC, pathNot: '^src/http/(rate-limit|http-deps)[.]ts$' },
      to: { circular: true },
    },
    {
      name: 'domain-imports-only-domain',
      severity: 'error',
      comment: 'domain/ is pure: it imports nothing of ours outside domain/.',
      from: { path: DOMAIN },
      to: { path: SRC, pathNot: DOMAIN },
    },
    {
      name: 'domain-does-no-io',
      severity: 'error',
      comment:
        'domain/ uses no Node built-in (no fs, net, crypto, timers) and none of the I/O libraries.',
      from: { path: DOMAIN },
      to: {
        dependencyTypes: ['core', 'npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg'],
        pathNot: '^node_modules/zod/',
      },
    },
    {
      name: 'net-imports-only-domain',
      severity: 'error',
      comment:
        'net/ holds the guarded outbound HTTP (SSRF checks, pinned lookups, bounded GETs) that ' +
        'crypto/ (remote JWKS), worker/ (CAEP pushes) and the metadata-document adapter share: ' +
        'it builds on domain/ only. Adapters, worker/ and deps.ts may import it.',
      from: { path: '^src/net/' },
      to: { path: SRC, pathNot: '^src/(domain|net)/' },
    },
    {
      name: 'services-import-only-domain',
      severity: 'error',
      comment:
        'services/ are use-cases over the ports in domain/: no store, crypto, policy, http, ' +
        'worker, config or entry point, not even for a type. Exception: crypto/random-id.ts (see RANDOM_ID).',
      from: { path: '^src/services/' },
      to: {
        path: '^src/(store|crypto|policy|net|http|worker|cli|config|client|deps[.]ts|main[.]ts|cli[.]ts)',
        pathNot: RANDOM_ID,
      },
    },
    {
      name: 'adapters-implement-domain-ports',
      severity: 'error',
      comment:
        'store/, crypto/ and policy/ depend on domain/ (whose ports they implement), never on ' +
        'each other, services, http, worker or the entry points. Exception: crypto/random-id.ts.',
      from: { path: ADAPTERS },
      to: {
        path: '^src/(store|crypto|policy|services|http|worker|cli|client|deps[.]ts|main[.]ts|cli[.]ts)',
        pathNot: [RANDOM_ID, '^src/$1/'],
      },
    },
    {
      name: 'http-and-worker-apart',
      severity: 'error',
      comment: 'http/ and worker/ never import each other, not even for a type.',
      from: { path: '^src/(http|worker)/' },
      to: { path: '^src/(http|worker)/', pathNot: '^src/$1/' },
    },
    {
      name: 'http-and-worker-reach-adapters-through-deps',
      severity: 'error',
      comment:
        'http/ and worker/ get adapters from deps.ts (HttpDeps, the Broker ports), never import ' +
        'store/, crypto/ or policy/ code. A type-only import of an adapter type is allowed: it ' +
        'describes what deps.ts hands over and is erased at build (http-deps.ts names KeyRing).',
      from: { path: '^src/(http|worker)/' },
      to: {
        path: `${ADAPTERS}|^src/(deps|main|cli)[.]ts$|^src/cli/`,
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'only-store-imports-ioredis',
      severity: 'error',
      comment:
        'store/ is the only ioredis importer. worker/ and deps.ts may import its types only ' +
        "(BullMQ's connection is an ioredis client that deps.ts builds through store/).",
      from: { path: SRC, pathNot: '^src/store/' },
      to: {
        path: '^node_modules/ioredis/',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'ioredis-types-only-in-worker-and-deps',
      severity: 'error',
      comment:
        'operations-deps.ts is part of the composition root (deps.ts hands it the BullMQ connection).',
      from: { path: SRC, pathNot: '^src/(store/|worker/|(operations-)?deps[.]ts$)' },
      to: { path: '^node_modules/ioredis/' },
    },
    {
      name: 'only-http-imports-hono',
      severity: 'error',
      comment:
        'http/ is the only Hono importer; client/ (the SDK ships Hono middleware) and main.ts ' +
        '(it starts @hono/node-server) excepted.',
      from: { path: SRC, pathNot: '^src/(http|client)/|^src/main[.]ts$' },
      to: { path: '^node_modules/(hono|@hono/[^/]+)/' },
    },
    {
      name: 'only-worker-imports-bullmq',
      severity: 'error',
      from: { path: SRC, pathNot: '^src/worker/' },
      to: { path: '^node_modules/bullmq/' },
    },
    {
      name: 'only-crypto-imports-jose',
      severity: 'error',
      comment: 'crypto/ is the only jose importer; client/ (the SDK, its own package export) excepted.',
      from: { path: SRC, pathNot: '^src/(crypto|client)/' },
      to: { path: '^node_modules/jose/' },
    },
    {
      name: 'only-policy-imports-cedar',
      severity: 'error',
      from: { path: SRC, pathNot: '^src/policy/' },
      to: { path: '^node_modules/@cedar-policy/' },
    },
    {
      name: 'sdk-stays-self-contained',
      severity: 'error',
      comment:
        'client/ is compiled on its own into the @mandate/sdk package (packages/sdk): it may import ' +
        'only client/, the zod-free shared domain modules named here, node: builtins and the ' +
        "SDK's own dependencies and optional peers (type-only imports included: they ship in its .d.ts).",
      from: { path: '^src/client/' },
      to: {
        pathNot: [
          '^src/client/',
          '^src/domain/(agent-task|dpop|canonical-json|caep-event-types|resource-uri|tool-arguments|lru-map)[.]ts$',
          '^node_modules/(jose|oauth4webapi|hono|@modelcontextprotocol/sdk)/',
        ],
        dependencyTypesNot: ['core'],
      },
    },
    {
      name: 'sdk-domain-modules-import-nothing',
      severity: 'error',
      comment: 'The domain modules the SDK ships import nothing, so the package pulls in no server code.',
      from: { path: '^src/domain/(agent-task|dpop|canonical-json|caep-event-types|tool-arguments|lru-map)[.]ts$' },
      to: { pathNot: '^$' },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      comment: 'Every import resolves (a typo would otherwise escape the rules above).',
      from: { path: SRC },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/.*[.]lua$' },
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
