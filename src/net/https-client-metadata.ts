// Client ID Metadata Documents over HTTPS: SSRF-guarded, pinned, bounded fetches, cached per Cache-Control, one fetch per URL at a time.
import type { LookupFunction } from 'node:net';
import {
  type CacheBounds,
  CLIENT_METADATA_MAX_BYTES,
  CLIENT_METADATA_TIMEOUT_MS,
  type ClientMetadataDocuments,
  cacheLifetimeSec,
  clientIdUrlProblem,
  DocumentUnreachable,
  type MetadataClient,
  readClientMetadata,
} from '../domain/client-metadata.ts';
import { OAuthError } from '../domain/errors.ts';
import { PublicJwksSchema } from '../domain/key-source.ts';
import { LruMap } from '../domain/lru-map.ts';
import { addressKindOf, addressProblem } from '../domain/receiver-target.ts';
import { checkedLookup, type ResolveAll, TargetRefused } from './checked-lookup.ts';
import { guardedGet, ResponseTooLarge } from './guarded-get.ts';

const FLAG = 'mcp.cimd_allow_private';
const DEFAULT_MAX_FETCHES = 32;

export interface ClientMetadataOptions {
  /** Documents on loopback, private, link-local and other non-public addresses (tests only). */
  readonly allowPrivate: boolean;
  /** Host names documents may be fetched from (exact, lower case); empty: any public host. */
  readonly allowedHosts: readonly string[];
  /** How long a document is kept, whatever its Cache-Control says (s). */
  readonly cache: CacheBounds;
  /** Most documents kept (the oldest dropped first). */
  readonly maxEntries: number;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  /** Extra CA certificates to trust (tests with a private CA). */
  readonly ca?: string | Buffer | undefined;
  /** Name resolution (tests); the system resolver otherwise. */
  readonly resolve?: ResolveAll | undefined;
  readonly nowMs?: () => number;
  /** Documents being fetched at once (different URLs); beyond it resolve answers temporarily_unavailable. */
  readonly maxFetches?: number;
}

interface Cached {
  readonly client: MetadataClient;
  readonly untilMs: number;
}

const refuse = (why: string) =>
  new OAuthError('invalid_client', `client_id metadata document ${why}`);

/**
 * The ClientMetadataDocuments port over HTTPS. Each fetch resolves the host itself, refuses it
 * when any address it resolves to is not public (unless `allowPrivate`), and connects to the
 * address it checked (no second lookup); an IP-literal host is checked the same way. HTTPS only,
 * no redirect followed, a deadline and a size cap, at most `maxFetches` at once. A document's
 * `jwks_uri` is fetched the same way and returned as `jwks`. A document is kept as long as its
 * Cache-Control allows, within `cache`; concurrent resolves of one URL share one fetch.
 */
export function createHttpsClientMetadataDocuments(
  opts: ClientMetadataOptions,
): ClientMetadataDocuments {
  const nowMs = opts.nowMs ?? Date.now;
  const cached = new LruMap<string, Cached>(opts.maxEntries);
  const pending = new Map<string, Promise<MetadataClient>>();
  const allowedHosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  const lookup: LookupFunction = checkedLookup(
    { allowPrivateTargets: opts.allowPrivate },
    opts.resolve,
    FLAG,
  );

  const keep = (url: string, client: MetadataClient, lifetimeSec: number) => {
    if (lifetimeSec <= 0) cached.delete(url);
    else cached.set(url, { client, untilMs: nowMs() + lifetimeSec * 1000 });
  };

  /** Why `url`'s host may not be fetched from, before any lookup; undefined when it may. */
  const hostProblem = (url: string): string | undefined => {
    const host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
    if (allowedHosts.size > 0 && !allowedHosts.has(host))
      return 'host is not in mcp.cimd_allowed_hosts';
    // A literal address never reaches the socket's lookup: check it here.
    if (addressKindOf(host) === undefined) return undefined;
    const refused = addressProblem(host, { allowPrivateTargets: opts.allowPrivate }, FLAG);
    return refused ? `host ${refused}` : undefined;
  };

  /** One guarded GET of a JSON document; `what` names it in errors ('' for the document itself). */
  const fetchJson = async (url: string, what: string) => {
    const fail = (why: string) => refuse(what ? `${what} ${why}` : why);
    const problem = hostProblem(url);
    if (problem) throw fail(problem);
    const res = await guardedGet(url, {
      timeoutMs: opts.timeoutMs ?? CLIENT_METADATA_TIMEOUT_MS,
      maxBytes: opts.maxBytes ?? CLIENT_METADATA_MAX_BYTES,
      lookup,
      ca: opts.ca,
      headers: { accept: 'application/json' },
    }).catch((err: Error) => {
      // The answer reaches whoever sent the client_id: it names no address the host resolved to
      // and no socket error (they would map the network behind Mandate); those stay in `cause`.
      const refused =
        err instanceof TargetRefused
          ? fail('host is not allowed (it resolves to an address Mandate does not fetch from)')
          : err instanceof ResponseTooLarge
            ? fail(`is too large: ${err.message}`)
            : new DocumentUnreachable(
                `client_id metadata document ${what ? `${what} ` : ''}could not be fetched`,
              );
      refused.cause = err;
      throw refused;
    });
    if (res.status >= 300 && res.status < 400) throw fail('answered a redirect (not followed)');
    if (res.status >= 500)
      throw new DocumentUnreachable(
        `client_id metadata document ${what ? `${what} ` : ''}answered HTTP ${res.status}`,
      );
    if (res.status !== 200) throw fail(`answered HTTP ${res.status}`);
    try {
      return {
        json: JSON.parse(res.body.toString('utf8')) as unknown,
        lifetimeSec: cacheLifetimeSec(res.headers['cache-control'], opts.cache),
      };
    } catch {
      throw fail('is not JSON');
    }
  };

  const fetchDocument = async (url: string): Promise<MetadataClient> => {
    const doc = await fetchJson(url, '');
    const read = readClientMetadata(url, doc.json);
    if (!read.ok) throw refuse(`is not usable: ${read.problem}`);
    const { jwks_uri: jwksUri, ...client } = read.client;
    if (jwksUri === undefined) {
      keep(url, read.client, doc.lifetimeSec);
      return read.client;
    }
    // The keys of a client nobody registered are fetched here, under the same guards, and kept
    // as long as both answers allow: the unguarded remote-JWKS cache never sees its jwks_uri.
    const keys = await fetchJson(jwksUri, 'jwks_uri');
    const jwks = PublicJwksSchema.safeParse(keys.json);
    if (!jwks.success) throw refuse(`jwks_uri is not usable: ${jwks.error.issues[0]?.message}`);
    const withKeys: MetadataClient = { ...client, jwks: jwks.data };
    keep(url, withKeys, Math.min(doc.lifetimeSec, keys.lifetimeSec));
    return withKeys;
  };

  return {
    async resolve(url) {
      const problem = clientIdUrlProblem(url);
      if (problem) throw refuse(`URL ${problem}`);
      const refused = hostProblem(url);
      if (refused) throw refuse(refused);
      const hit = cached.get(url);
      if (hit && hit.untilMs > nowMs()) return hit.client;
      const inFlight = pending.get(url);
      if (inFlight) return inFlight;
      // Each fetch may hold a connection for the whole deadline: their number is bounded.
      if (pending.size >= (opts.maxFetches ?? DEFAULT_MAX_FETCHES))
        throw new OAuthError(
          'temporarily_unavailable',
          'too many client metadata documents are being fetched; try again shortly',
        );
      const fetching = fetchDocument(url).finally(() => pending.delete(url));
      pending.set(url, fetching);
      return fetching;
    },
  };
}
