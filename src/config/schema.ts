// Mandate's configuration: config/mandate.yaml overlaid with MANDATE_* env. Defaults live here.
import { z } from 'zod';
import { ClientInputSchema } from '../domain/client.ts';
import { ReceiverInputSchema } from '../domain/receiver.ts';
import { MAX_GRANT_TTL_SEC } from '../domain/intent.ts';
import { MAX_ACCESS_TTL_SEC } from '../domain/ttl.ts';

const Seconds = z.number().int().positive();

/** A client registered in the config file. Its secret is given as a hash, or (for development) in clear. */
export const ConfigClientSchema = ClientInputSchema.extend({
  client_id: ClientInputSchema.shape.client_id.unwrap(),
  /** `sha256:<base64url>` of the secret, as `mandate clients add` prints it. */
  client_secret_hash: z.string().regex(/^sha256:[A-Za-z0-9_-]{43}$/).optional(),
  /** The secret in clear, for development only (it is hashed at load). */
  client_secret: z.string().min(32).optional(),
}).strict();

export const ConfigSchema = z
  .object({
    server: z
      .object({
        /** Interface to listen on (env MANDATE_HOST). */
        host: z.string().default('127.0.0.1'),
        /** Port to listen on (env MANDATE_PORT). */
        port: z.number().int().min(0).max(65535).default(8080),
        /** Issuer URL (env MANDATE_ISSUER); default `http://<host>:<port>`. */
        issuer: z.url().optional(),
        /** Largest request body accepted, in bytes. */
        body_limit_bytes: z.number().int().positive().max(10_000_000).default(65_536),
        /** Largest body of a batch evaluation (up to 100 evaluations, each with its token), in bytes. */
        batch_body_limit_bytes: z.number().int().positive().max(10_000_000).default(524_288),
        /** Trust X-Forwarded-For for the client's address (only behind a proxy you run). */
        trust_proxy: z.boolean().default(false),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080, body_limit_bytes: 65_536, batch_body_limit_bytes: 524_288, trust_proxy: false }),
    redis: z
      .object({
        /** Redis URL (env REDIS_URL). */
        url: z.string().default('redis://127.0.0.1:6379'),
        /** Prefix of every key, queue and channel (env MANDATE_REDIS_PREFIX). */
        prefix: z.string().min(1).max(64).default('mandate:'),
        /** Longest wait for one request-path Redis command before failing closed. */
        command_timeout_ms: z.number().int().positive().max(60_000).default(1000),
        /** Refuse to start when Redis may evict keys (a lost revocation list would re-activate nothing, but a lost grant ends a task). */
        require_noeviction: z.boolean().default(true),
      })
      .strict()
      .default({ url: 'redis://127.0.0.1:6379', prefix: 'mandate:', command_timeout_ms: 1000, require_noeviction: true }),
    tokens: z
      .object({
        /** Access token lifetime (seconds); never more than 900. */
        access_ttl: Seconds.max(MAX_ACCESS_TTL_SEC).default(300),
        /** Grant lifetime when the task asks for none (seconds). */
        grant_ttl: Seconds.max(MAX_GRANT_TTL_SEC).default(3600),
        /** Longest grant lifetime (seconds); never more than 86400. */
        max_grant_ttl: Seconds.max(MAX_GRANT_TTL_SEC).default(MAX_GRANT_TTL_SEC),
        /** Clock skew tolerated when checking exp/iat/nbf (seconds). */
        clock_tolerance: z.number().int().min(0).max(300).default(5),
        /**
         * Access tokens whose signature this process has checked, remembered by their exact text so
         * that checking one again skips the signature (times and the grant are checked every time);
         * 0 verifies every call afresh.
         */
        verified_cache_entries: z.number().int().min(0).max(1_000_000).default(10_000),
      })
      .strict()
      .default({ access_ttl: 300, grant_ttl: 3600, max_grant_ttl: MAX_GRANT_TTL_SEC, clock_tolerance: 5, verified_cache_entries: 10_000 }),
    keys: z
      .object({
        /** Signing algorithm of new keys. */
        alg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
        /** Rotate the signing key after this many seconds (0: only on request). */
        rotate_after: z.number().int().min(0).default(7 * 86_400),
      })
      .strict()
      .default({ alg: 'ES256', rotate_after: 7 * 86_400 }),
    policy: z
      .object({
        /** Folder of *.cedar files loaded when Redis holds no policy set yet. */
        dir: z.string().default('config/policies'),
        /** Cedar schema every policy set is validated against. */
        schema: z.string().default('config/schema.cedarschema'),
        /**
         * Decisions shared between requests of one policy version, keyed on what the policy can tell
         * apart (a counter compared with 600 is keyed by its side of 600, not its value; see
         * src/domain/policy-reads.ts); 0 decides every call afresh.
         */
        decision_cache_entries: z.number().int().min(0).max(1_000_000).default(10_000),
      })
      .strict()
      .default({ dir: 'config/policies', schema: 'config/schema.cedarschema', decision_cache_entries: 10_000 }),
    worker: z
      .object({
        /** Interval of the scheduled re-evaluation sweep (milliseconds). */
        sweep_every_ms: z.number().int().min(1000).default(30_000),
        /** Grants re-evaluated per batch. */
        batch_size: z.number().int().min(1).max(10_000).default(500),
        /** Concurrent jobs per worker process. */
        concurrency: z.number().int().min(1).max(64).default(4),
      })
      .strict()
      .default({ sweep_every_ms: 30_000, batch_size: 500, concurrency: 4 }),
    usage: z
      .object({
        /** Evaluations of one grant in a minute that trigger its re-evaluation at once. */
        reevaluate_at_calls_per_minute: z.number().int().min(1).default(600),
        /** Denied evaluations of one grant in an hour that trigger its re-evaluation at once. */
        reevaluate_at_denied_per_hour: z.number().int().min(1).default(20),
      })
      .strict()
      .default({ reevaluate_at_calls_per_minute: 600, reevaluate_at_denied_per_hour: 20 }),
    approvals: z
      .object({
        /** How long an approval request waits for an approver (seconds). */
        ttl: z.number().int().min(10).max(86_400).default(600),
        /** Minimum seconds between an agent's polls (CIBA `interval`). */
        interval: z.number().int().min(1).max(60).default(5),
      })
      .strict()
      .default({ ttl: 600, interval: 5 }),
    audit: z
      .object({
        /** Decision records kept in Redis (approximate; older ones are trimmed). */
        max_records: z.number().int().min(1000).default(1_000_000),
      })
      .strict()
      .default({ max_records: 1_000_000 }),
    rate_limit: z
      .object({
        /**
         * Failed client (or admin) authentications allowed per client id and per address, per minute;
         * further attempts get 429 with Retry-After until the minute ends, before any secret is compared.
         */
        auth_failures_per_minute: z.number().int().min(1).default(20),
        /**
         * Introspections/evaluations answered "not a valid token" allowed per resource client, per minute;
         * further checks by that client get 429 with Retry-After until the minute ends. Valid tokens are not counted.
         */
        invalid_tokens_per_minute: z.number().int().min(1).default(600),
      })
      .strict()
      .default({ auth_failures_per_minute: 20, invalid_tokens_per_minute: 600 }),
    admin: z
      .object({
        /** Bootstrap admin bearer token (env MANDATE_ADMIN_TOKEN); generated and printed once when unset. */
        token: z.string().min(16).optional(),
      })
      .strict()
      .default({}),
    /** Clients created (or updated) at start. */
    clients: z.array(ConfigClientSchema).default([]),
    /**
     * CAEP receivers (RFC 8935 push), created or replaced at start: `{ id, url, audience? (default url),
     * events? (subset of session-revoked, token-claims-change; default both), authorization? (bearer token) }`.
     */
    receivers: z
      .array(ReceiverInputSchema)
      .refine((rs) => new Set(rs.map((r) => r.id)).size === rs.length, 'receiver ids must be unique')
      .default([]),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigClient = z.infer<typeof ConfigClientSchema>;
