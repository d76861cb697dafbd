// Client ID Metadata Documents over HTTPS: SSRF-guarded, pinned, bounded fetches, cached per Cache-Control, one fetch per URL at a time.
import type { LookupFunction } from 'node:net';
import {
  type CacheBounds,
  CLIENT_METADATA_MAX_BYTES,
  CLIENT_METADATA_TIMEOUT_MS,
  type ClientMetadataDocuments,
  cacheLifetimeSec,
  clientIdUrlProblem,
  type MetadataClient,
  readClientMetadata,
} from '../domain/client-metadata.ts';
import { OAuthError } from '../domain/errors.ts';
import { addressKindOf, addressProblem } from '../domain/receiver-target.ts';
import { checkedLookup, type ResolveAll, TargetRefused } from './checked-lookup.ts';
import { guardedGet, ResponseTooLarge } from './guarded-get.ts';

const FLAG = 'mcp.cimd_allow_private';

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
 * no redirect followed, a deadline and a size cap. A document is kept as long as its
 * Cache-Control allows, within `cache`; concurrent resolves of one URL share one fetch.
 */
export function createHttpsClientMetadataDocuments(
  opts: ClientMetadataOptions,
): ClientMetadataDocuments {
  const nowMs = opts.nowMs ?? Date.now;
  const cached = new Map<string, Cached>();
  const pending = new Map<string, Promise<MetadataClient>>();
  const allowedHosts = new Set(opts.allowedHosts.map((h) => h.toLowerCase()));
  const lookup: LookupFunction = checkedLookup(
    { allowPrivateTargets: opts.allowPrivate },
    opts.resolve,
    FLAG,
  );

  const keep = (url: string, client: MetadataClient, lifetimeSec: number) => {
    cached.delete(url);
    if (lifetimeSec <= 0) return;
    cached.set(url, { client, untilMs: nowMs() + lifetimeSec * 1000 });
    while (cached.size > opts.maxEntries) cached.delete(cached.keys().next().value as string);
  };

  const fetchDocument = async (url: string): Promise<MetadataClient> => {
    const res = await guardedGet(url, {
      timeoutMs: opts.timeoutMs ?? CLIENT_METADATA_TIMEOUT_MS,
      maxBytes: opts.maxBytes ?? CLIENT_METADATA_MAX_BYTES,
      lookup,
      ca: opts.ca,
      headers: { accept: 'application/json' },
    }).catch((err: Error) => {
      if (err instanceof TargetRefused) throw refuse(`host is not allowed: ${err.message}`);
      if (err instanceof ResponseTooLarge) throw refuse(`is too large: ${err.message}`);
      throw refuse(`could not be fetched: ${err.message}`);
    });
    if (res.status >= 300 && res.status < 400) throw refuse('answered a redirect (not followed)');
    if (res.status !== 200) throw refuse(`answered HTTP ${res.status}`);
    let json: unknown;
    try {
      json = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw refuse('is not JSON');
    }
    const read = readClientMetadata(url, json);
    if (!read.ok) throw refuse(`is not usable: ${read.problem}`);
    const cacheControl = res.headers['cache-control'];
    keep(url, read.client, cacheLifetimeSec(cacheControl, opts.cache));
    return read.client;
  };

  return {
    async resolve(url) {
      const problem = clientIdUrlProblem(url);
      if (problem) throw refuse(`URL ${problem}`);
      const host = new URL(url).hostname.toLowerCase().replace(/\.$/, '');
      if (allowedHosts.size > 0 && !allowedHosts.has(host))
        throw refuse('host is not in mcp.cimd_allowed_hosts');
      // A literal address never reaches the socket's lookup: check it here.
      if (addressKindOf(host) !== undefined) {
        const refused = addressProblem(host, { allowPrivateTargets: opts.allowPrivate }, FLAG);
        if (refused) throw refuse(`host ${refused}`);
      }
      const hit = cached.get(url);
      if (hit && hit.untilMs > nowMs()) return hit.client;
      const inFlight = pending.get(url);
      if (inFlight) return inFlight;
      const fetching = fetchDocument(url).finally(() => pending.delete(url));
      pending.set(url, fetching);
      return fetching;
    },
  };
}
