// Mandate's configuration: config/mandate.yaml overlaid with MANDATE_* env. Defaults live here.
// Over 350 lines on purpose: one schema read top to bottom, each setting beside its default and bound.
import { z } from 'zod';
import { ClientInputSchema } from '../domain/client.ts';
import { parseIpRange } from '../domain/client-address.ts';
import { MAX_GRANT_TTL_SEC } from '../domain/intent.ts';
import { ReceiverInputSchema } from '../domain/receiver.ts';
import { TrustedIssuerIdSchema, TrustedIssuerInputSchema } from '../domain/trusted-issuer.ts';
import { MAX_ACCESS_TTL_SEC } from '../domain/ttl.ts';
import { ApprovalNotifySchema, AuditSinksSchema } from './operations-schema.ts';
import { redisTopology } from './redis-topology.ts';

const Seconds = z.number().int().positive();

/** A client registered in the config file. Its secret is given as a hash, or (for development) in clear. */
export const ConfigClientSchema = ClientInputSchema.extend({
  client_id: ClientInputSchema.shape.client_id.unwrap(),
  /** `sha256:<base64url>` of the secret, as `mandate clients add` prints it. */
  client_secret_hash: z
    .string()
    .regex(/^sha256:[A-Za-z0-9_-]{43}$/)
    .optional(),
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
        /**
         * Deepest nesting of objects/arrays in any JSON value taken from a request (bodies, AuthZEN and
         * signal `context`, `authorization_details`, client `attributes`); deeper is a 400 at parse time.
         */
        json_max_depth: z.number().int().min(4).max(256).default(32),
        /** Most values (of every kind, containers included) in one JSON body; more is a 400. */
        json_max_nodes: z.number().int().min(100).max(1_000_000).default(10_000),
        /** Most members of one JSON object, or items of one array, in a request; more is a 400. */
        json_max_members: z.number().int().min(100).max(1_000_000).default(1000),
        /** Longest string (or member name) in a JSON request, in UTF-16 code units; longer is a 400. */
        json_max_string_length: z.number().int().min(1024).max(10_000_000).default(65_536),
        /**
         * A body declared (Content-Length) over the limit but at most this large is read and dropped
         * before its 413 is sent, so a client writing it without `Expect: 100-continue` reads the 413
         * instead of a reset; larger ones are refused at once and the connection closed. 0: never read.
         */
        oversized_body_drain_bytes: z.number().int().min(0).max(1_073_741_824).default(16_777_216),
        /** Time a client has to send the request headers (Node `headersTimeout`; slow-header clients are cut off with 408). */
        headers_timeout_ms: z.number().int().min(1000).max(600_000).default(10_000),
        /** Time a client has to send the whole request, body included (Node `requestTimeout`); at least `headers_timeout_ms`. */
        request_timeout_ms: z.number().int().min(1000).max(3_600_000).default(30_000),
        /**
         * How long an idle keep-alive connection stays open (Node `keepAliveTimeout`). Behind a load
         * balancer that reuses connections, set it above the balancer's idle timeout.
         */
        keep_alive_timeout_ms: z.number().int().min(0).max(600_000).default(5000),
        /** Most header lines read from one request (Node `maxHeadersCount`); the rest are dropped. */
        max_headers_count: z.number().int().min(16).max(2000).default(100),
        /** Largest header block of one request, in bytes (Node `maxHeaderSize`); larger gets 431. */
        max_header_size_bytes: z.number().int().min(4096).max(1_048_576).default(16_384),
        /** Most open connections (Node `server.maxConnections`); further ones are closed at once. */
        max_connections: z.number().int().min(1).max(1_000_000).default(10_000),
        /**
         * Take the client's address from X-Forwarded-For (only behind a proxy you run). Without
         * `trusted_proxies` exactly one hop is trusted: the socket peer, whatever its address, so the
         * client is the rightmost X-Forwarded-For entry (the one the proxy appended).
         */
        trust_proxy: z.boolean().default(false),
        /**
         * Addresses or CIDR ranges (IPv4, IPv6) of your proxies; needs `trust_proxy: true`. The client
         * is the rightmost X-Forwarded-For hop outside these ranges (RFC 7239 section 8); when the
         * socket peer is not one of them the header is ignored.
         */
        trusted_proxies: z
          .array(
            z.string().superRefine((v, ctx) => {
              const r = parseIpRange(v);
              if ('error' in r) ctx.addIssue({ code: 'custom', message: r.error });
            }),
          )
          .max(256)
          .default([]),
      })
      .strict()
      .superRefine((s, ctx) => {
        if (s.trusted_proxies.length > 0 && !s.trust_proxy)
          ctx.addIssue({
            code: 'custom',
            path: ['trusted_proxies'],
            message: 'needs trust_proxy: true (or remove the list)',
          });
      })
      .default({
        host: '127.0.0.1',
        port: 8080,
        body_limit_bytes: 65_536,
        batch_body_limit_bytes: 524_288,
        json_max_depth: 32,
        json_max_nodes: 10_000,
        json_max_members: 1000,
        json_max_string_length: 65_536,
        oversized_body_drain_bytes: 16_777_216,
        headers_timeout_ms: 10_000,
        request_timeout_ms: 30_000,
        keep_alive_timeout_ms: 5000,
        max_headers_count: 100,
        max_header_size_bytes: 16_384,
        max_connections: 10_000,
        trust_proxy: false,
        trusted_proxies: [],
      }),
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
        /**
         * Replicas a revocation or a new grant must be on before it is acknowledged (WAIT, or
         * WAITAOF on Redis 7.2+ with AOF). Unset: 1 once the primary has been seen with a replica,
         * 0 before; 0 acknowledges what the primary has.
         */
        min_replicas_ack: z.number().int().min(0).max(16).optional(),
        /** Longest wait for those replicas; past it the call answers 503 (not confirmed durable). */
        replica_ack_timeout_ms: z.number().int().positive().max(60_000).default(500),
        /** Connections that carry the acknowledgements (each blocks while it waits). */
        replica_ack_connections: z.number().int().min(1).max(64).default(4),
        /** Sentinels (`host:port`, port 26379 by default) watching the primary `master_name`; replaces the host of `url`. */
        sentinels: z.array(z.string().min(1).max(300)).min(1).max(16).optional(),
        /** The primary's name as the sentinels know it (with `sentinels`). */
        master_name: z.string().min(1).max(128).optional(),
        /** Redis Cluster seed nodes (`host:port`, port 6379 by default); replaces the host of `url`. */
        cluster_nodes: z.array(z.string().min(1).max(300)).min(1).max(16).optional(),
      })
      .strict()
      .superRefine((r, ctx) => {
        try {
          redisTopology(r);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .default({
        url: 'redis://127.0.0.1:6379',
        prefix: 'mandate:',
        command_timeout_ms: 1000,
        require_noeviction: true,
        replica_ack_timeout_ms: 500,
        replica_ack_connections: 4,
      }),
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
         * Access tokens this process has proven its own (by their issued digest or signature),
         * remembered by their exact text so that checking one again skips parsing and proof (times
         * and the grant are checked every time); the least recently used leaves first. About one
         * per live token the process checks: the default holds a fleet of 25,000 live grants.
         * 0 proves every call afresh.
         */
        verified_cache_entries: z.number().int().min(0).max(1_000_000).default(25_000),
      })
      .strict()
      .default({
        access_ttl: 300,
        grant_ttl: 3600,
        max_grant_ttl: MAX_GRANT_TTL_SEC,
        clock_tolerance: 5,
        verified_cache_entries: 25_000,
      }),
    keys: z
      .object({
        /** Signing algorithm of new keys. */
        alg: z.enum(['ES256', 'EdDSA', 'RS256']).default('ES256'),
        /** Rotate the signing key after this many seconds (0: only on request). */
        rotate_after: z
          .number()
          .int()
          .min(0)
          .default(7 * 86_400),
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
      .default({
        dir: 'config/policies',
        schema: 'config/schema.cedarschema',
        decision_cache_entries: 10_000,
      }),
    worker: z
      .object({
        /** Interval of the scheduled re-evaluation sweep (milliseconds). */
        sweep_every_ms: z.number().int().min(1000).default(30_000),
        /** Grants re-evaluated per batch. */
        batch_size: z.number().int().min(1).max(10_000).default(500),
        /** Concurrent jobs per worker process. */
        concurrency: z.number().int().min(1).max(64).default(4),
        /** Port of `/metrics`, `/healthz` and `/readyz` of a worker-only process (`mandate worker`); 0: none. */
        metrics_port: z.number().int().min(0).max(65535).default(9464),
        /** Interface that port listens on. */
        metrics_host: z.string().default('127.0.0.1'),
      })
      .strict()
      .default({
        sweep_every_ms: 30_000,
        batch_size: 500,
        concurrency: 4,
        metrics_port: 9464,
        metrics_host: '127.0.0.1',
      }),
    usage: z
      .object({
        /** Evaluations of one grant in the trailing minute (`calls_last_minute`) that trigger its re-evaluation at once. */
        reevaluate_at_calls_per_minute: z.number().int().min(1).default(600),
        /** Denied evaluations of one grant in the trailing hour (`denied_last_hour`) that trigger its re-evaluation at once. */
        reevaluate_at_denied_per_hour: z.number().int().min(1).default(20),
        /**
         * Grants whose last full evaluation this process keeps (about 1 KB each) to decide the next
         * evaluations of the grant from, checked by the store when recorded; the least recently
         * used leaves first. One per live grant evaluated: the default holds 25,000. 0 reads every
         * evaluation's grant afresh.
         */
        snapshot_entries: z.number().int().min(0).max(1_000_000).default(25_000),
      })
      .strict()
      .default({
        reevaluate_at_calls_per_minute: 600,
        reevaluate_at_denied_per_hour: 20,
        snapshot_entries: 25_000,
      }),
    limits: z
      .object({
        /**
         * (action, location) pairs one token request may ask policy to decide (per entry: distinct
         * actions x distinct locations, summed over entries). Each pair is a Cedar decision at mint,
         * refresh and every sweep; a request over it gets 400 invalid_authorization_details before
         * any decision. At most 1024 (one entry of 32 actions x 32 locations).
         */
        max_pairs_per_request: z.number().int().min(1).max(1024).default(64),
        /** (action, location) pairs one grant may hold; a mint or elevation that would exceed it gets 400 invalid_authorization_details. */
        max_pairs_per_grant: z.number().int().min(1).max(1024).default(64),
        /**
         * Grants one agent may hold at once, neither revoked nor past their deadline (suspended ones
         * count). A mint beyond it (client_credentials or a collected approval) gets 400
         * access_denied and creates nothing; checked atomically with the grant's creation.
         */
        max_live_grants_per_agent: z.number().int().min(1).max(1_000_000).default(10_000),
        /**
         * Approval requests (mint or elevation) one agent may have pending at once; a request that
         * would open another gets 400 access_denied and opens nothing. Resume requests the broker
         * opens for suspended grants do not count.
         */
        max_pending_approvals_per_agent: z.number().int().min(1).max(10_000).default(20),
      })
      .strict()
      .default({
        max_pairs_per_request: 64,
        max_pairs_per_grant: 64,
        max_live_grants_per_agent: 10_000,
        max_pending_approvals_per_agent: 20,
      }),
    signals: z
      .object({
        /**
         * Signals kept per grant, newest first; older ones are dropped from the list but live on in
         * the grant's signal summary (every type seen, the latest ip, the highest risk), so no
         * decision changes. Kept rather than refused: a noisy reporter must never keep out the
         * signal that ends a grant.
         */
        max_per_grant: z.number().int().min(1).max(10_000).default(100),
        /** Largest `context` of one signal, in bytes of JSON; a larger one gets 400 and is recorded nowhere. */
        max_context_bytes: z.number().int().min(256).max(65_536).default(4096),
        /**
         * Distinct signal types one grant takes; a signal of a new type beyond it gets 409 (the drift
         * rules' own types, such as task_complete and ip_changed, are always taken).
         */
        max_types_per_grant: z.number().int().min(1).max(1024).default(64),
      })
      .strict()
      .default({ max_per_grant: 100, max_context_bytes: 4096, max_types_per_grant: 64 }),
    dpop: z
      .object({
        /**
         * Token requests with a DPoP proof must carry a server nonce (RFC 9449 8): a proof without a
         * current one gets 400 `use_dpop_nonce` with a `DPoP-Nonce` header to retry with. Nonces are
         * stateless (an HMAC of the time slot with a secret every broker process shares).
         */
        require_nonce: z.boolean().default(false),
        /** How long a nonce is good for: the slot it was made in and the next (seconds). */
        nonce_slot_sec: z.number().int().min(10).max(3600).default(60),
        /**
         * How far a proof's `iat` may lie from the broker's clock, either side (seconds; the
         * `tokens.clock_tolerance` is added). A proof's jti is single-use within that window.
         */
        proof_max_age_sec: z.number().int().min(5).max(600).default(60),
        /**
         * AuthZEN evaluation of a DPoP-bound token takes, instead of a forwarded proof, the resource
         * client's word (`subject.properties.jkt`) that it verified a proof by the token's key itself.
         */
        trust_resource_verification: z.boolean().default(false),
      })
      .strict()
      .default({
        require_nonce: false,
        nonce_slot_sec: 60,
        proof_max_age_sec: 60,
        trust_resource_verification: false,
      }),
    approvals: z
      .object({
        /** How long an approval request waits for an approver (seconds). */
        ttl: z.number().int().min(10).max(86_400).default(600),
        /** Minimum seconds between an agent's polls (CIBA `interval`). */
        interval: z.number().int().min(1).max(60).default(5),
        /** Where each new approval request is posted (retried with backoff), with a link to its console page. */
        notify: ApprovalNotifySchema,
        /** Allow plain http notify URLs (a hook on the same host); otherwise https only. */
        notify_allow_http: z.boolean().default(false),
        /** Allow notify URLs on loopback, private, link-local or reserved addresses (checked at each post too). */
        notify_allow_private_targets: z.boolean().default(false),
      })
      .strict()
      .default({
        ttl: 600,
        interval: 5,
        notify: [],
        notify_allow_http: false,
        notify_allow_private_targets: false,
      }),
    audit: z
      .object({
        /** Decision records kept in Redis (approximate; older ones are trimmed). */
        max_records: z.number().int().min(1000).default(1_000_000),
        /**
         * Bytes of decision-record text kept in Redis (older records are trimmed, to within 1/64 of
         * this). 1 GiB: the count cap's million records at about 1 KB each, so it bites only when
         * records are large; the stream takes somewhat more memory than its text.
         */
        max_bytes: z.number().int().min(1_048_576).default(1_073_741_824),
        /**
         * Largest decision record, in bytes; a record whose inputs would be larger keeps them only as
         * `{omitted: {bytes, sha256}}`. 1 MiB: above the batch body limit, so any one request's inputs fit.
         */
        max_record_bytes: z.number().int().min(4096).default(1_048_576),
        /** Where every decision record is also written, in order, with its chain fields (stdout, file, otlp). */
        sinks: AuditSinksSchema,
      })
      .strict()
      .refine(
        (a) => a.max_bytes >= 8 * a.max_record_bytes,
        'audit.max_bytes must be at least 8 x audit.max_record_bytes',
      )
      .default({
        max_records: 1_000_000,
        max_bytes: 1_073_741_824,
        max_record_bytes: 1_048_576,
        sinks: [],
      }),
    rate_limit: z
      .object({
        /**
         * Failed authentications allowed per (client id, source address), per minute; further attempts
         * with that client id from that source get 429 with Retry-After until the minute ends, before
         * any secret is compared. Other sources presenting the same client id are not refused.
         */
        auth_failures_per_minute: z.number().int().min(1).default(20),
        /**
         * Failed client or admin authentications allowed per source address (IPv6: per /64), per
         * minute, whatever credential they presented; further requests from that source get 429 before
         * any secret is compared, except a credential this process has seen succeed recently (see
         * `known_credential_ttl_sec`), so a client sharing the address (NAT, proxy) keeps working.
         */
        auth_failures_per_source_per_minute: z.number().int().min(1).default(100),
        /**
         * How long a credential (client id + secret, or admin bearer token) seen to succeed passes a
         * blocked source; kept per process as a SHA-256 digest only, at most 10,000 (least recently
         * used dropped first). 0 turns the exception off.
         */
        known_credential_ttl_sec: z.number().int().min(0).max(86_400).default(3600),
        /**
         * Introspections/evaluations answered "not a valid token" allowed per resource client, per minute;
         * further checks by that client get 429 with Retry-After until the minute ends. Valid tokens are not counted.
         */
        invalid_tokens_per_minute: z.number().int().min(1).default(600),
      })
      .strict()
      .default({
        auth_failures_per_minute: 20,
        auth_failures_per_source_per_minute: 100,
        known_credential_ttl_sec: 3600,
        invalid_tokens_per_minute: 600,
      }),
    console: z
      .object({
        /** Longest a console session lasts, whatever the activity (seconds). */
        session_ttl: z.number().int().min(300).max(604_800).default(28_800),
        /** A console session ends after this long without a request (seconds). */
        idle_ttl: z.number().int().min(60).max(86_400).default(1800),
      })
      .strict()
      .default({ session_ttl: 28_800, idle_ttl: 1800 }),
    /**
     * People sign in at an upstream OpenID Provider (Okta, Entra ID, Keycloak, Google...) during
     * `/oauth/authorize`; Mandate is its relying party, with `<issuer>/oauth/callback` as redirect URI.
     * Without it, the authorization code grant answers that sign-in is not configured.
     */
    login: z
      .object({
        oidc: z
          .object({
            /** The provider's issuer URL (its discovery document is read from there); https, or http on a loopback host. */
            issuer: z.url(),
            client_id: z.string().min(1).max(512),
            /** The client secret Mandate authenticates with (client_secret_basic). */
            client_secret: z.string().min(1).max(1024),
            /** Scopes asked for beside `openid`. */
            scopes: z.array(z.string().min(1).max(128)).max(16).default(['profile', 'email']),
            /** The ID token claim listing the person's groups (`context.on_behalf_of.groups`). */
            groups_claim: z.string().min(1).max(128).default('groups'),
            /** Longest one call to the provider may take (ms). */
            timeout_ms: z.number().int().min(100).max(30_000).default(5000),
          })
          .strict()
          .refine(
            (o) => {
              const u = new URL(o.issuer);
              return (
                u.protocol === 'https:' || ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname)
              );
            },
            { path: ['issuer'], message: 'must be https (http only on a loopback host)' },
          )
          .optional(),
        /**
         * Authorization requests one source may start in a minute (each keeps a pending request in
         * Redis for 10 minutes); more get 429.
         */
        starts_per_source_per_minute: z.number().int().min(1).max(100_000).default(60),
      })
      .strict()
      .default({ starts_per_source_per_minute: 60 }),
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
      .refine(
        (rs) => new Set(rs.map((r) => r.id)).size === rs.length,
        'receiver ids must be unique',
      )
      .default([]),
    /**
     * Workload identity federation and remote key sets (client `jwks_uri`, issuers' `jwks_uri`).
     * `issuers` are created or replaced at every start: `{ id, issuer, jwks_uri | jwks, audience,
     * subject_map: [{ match: { <claim>: <value> }, client_id }], claims? }`.
     */
    federation: z
      .object({
        issuers: z
          .array(TrustedIssuerInputSchema.safeExtend({ id: TrustedIssuerIdSchema }))
          .refine(
            (is) => new Set(is.map((i) => i.id)).size === is.length,
            'trusted issuer ids must be unique',
          )
          .refine(
            (is) => new Set(is.map((i) => i.issuer)).size === is.length,
            'each issuer may be listed once',
          )
          .default([]),
        /** Allow a jwks_uri on http to a loopback host (tests, a local sidecar); otherwise https only. */
        allow_http_loopback: z.boolean().default(false),
        /** Longest a JWKS fetch may take (ms). */
        jwks_timeout_ms: z.number().int().min(100).max(10_000).default(2000),
        /** Largest JWKS document accepted (bytes). */
        jwks_max_bytes: z.number().int().min(1024).max(1_048_576).default(65_536),
        /** How long a fetched JWKS is used before it is fetched again (s). */
        jwks_cache_max_age_sec: z.number().int().min(1).max(86_400).default(600),
        /** After a fetch (or a failed one), an unknown `kid` fetches again no sooner than this (s). */
        jwks_cooldown_sec: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .default({
        issuers: [],
        allow_http_loopback: false,
        jwks_timeout_ms: 2000,
        jwks_max_bytes: 65_536,
        jwks_cache_max_age_sec: 600,
        jwks_cooldown_sec: 60,
      }),
    /** RFC 8693 token exchange: agents acting for people and for other agents. */
    delegation: z
      .object({
        /**
         * Most `act` levels an exchanged token may nest (an agent acting for a person is one; each
         * hand-off to a sub-agent adds one); deeper is `invalid_request`.
         */
        max_depth: z.number().int().min(1).max(16).default(4),
      })
      .strict()
      .default({ max_depth: 4 }),
    /** Mandate as the authorization server of MCP servers. */
    mcp: z
      .object({
        /**
         * Fetch Client ID Metadata Documents from loopback, private, link-local, unique-local,
         * CGNAT, multicast or unspecified addresses. For tests only: it opens an SSRF path.
         */
        cimd_allow_private: z.boolean().default(false),
        /** Host names client_id metadata documents may come from (exact); empty: any public host. */
        cimd_allowed_hosts: z
          .array(
            z
              .string()
              .min(1)
              .max(253)
              .regex(/^[A-Za-z0-9.-]+$/, 'must be a host name'),
          )
          .max(1000)
          .default([]),
        /** Shortest time a fetched document is kept, even when it says max-age=0 (s); no-store is never kept. */
        cimd_cache_min_sec: z.number().int().min(0).max(86_400).default(60),
        /** Longest time a fetched document is kept, whatever its max-age (s). */
        cimd_cache_max_sec: z.number().int().min(1).max(604_800).default(86_400),
        /** Most documents kept in each process's cache. */
        cimd_cache_entries: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .refine(
        (m) => m.cimd_cache_min_sec <= m.cimd_cache_max_sec,
        'mcp.cimd_cache_min_sec must not exceed mcp.cimd_cache_max_sec',
      )
      .default({
        cimd_allow_private: false,
        cimd_allowed_hosts: [],
        cimd_cache_min_sec: 60,
        cimd_cache_max_sec: 86_400,
        cimd_cache_entries: 10_000,
      }),
    /** CAEP push delivery: where receivers may be, and how one receiver's trouble is kept from the others. */
    caep: z
      .object({
        /** Allow plain http receiver URLs (tests, a receiver on the same host); otherwise https only. */
        allow_http: z.boolean().default(false),
        /**
         * Allow receivers on loopback, private, link-local (169.254.169.254 included), unique-local,
         * unspecified or reserved addresses; checked at registration and on every resolved address at delivery.
         */
        allow_private_targets: z.boolean().default(false),
        /** Pushes in flight at once to one receiver, per worker process (each receiver has its own queue). */
        concurrency_per_receiver: z.number().int().min(1).max(64).default(4),
        /** Longest one push may take (connect, send, answer) before it is abandoned and retried (ms). */
        delivery_timeout_ms: z.number().int().min(100).max(20_000).default(5000),
        /** Events waiting for one receiver (queued or backing off); beyond it new events for it are dropped and counted. */
        max_backlog_per_receiver: z.number().int().min(1).max(1_000_000).default(10_000),
      })
      .strict()
      .default({
        allow_http: false,
        allow_private_targets: false,
        concurrency_per_receiver: 4,
        delivery_timeout_ms: 5000,
        max_backlog_per_receiver: 10_000,
      }),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigClient = z.infer<typeof ConfigClientSchema>;
