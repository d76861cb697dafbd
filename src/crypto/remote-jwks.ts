// Remote JSON Web Key Sets (client and trusted-issuer jwks_uri): one bounded, cached fetcher per URL.
import {
  createRemoteJWKSet,
  customFetch,
  type FetchImplementation,
  type JWTVerifyGetKey,
} from 'jose';
import { jwksUriProblem } from '../domain/key-source.ts';
import { guardedGet } from '../net/guarded-get.ts';

export interface RemoteJwksOptions {
  /** Longest one fetch may take (ms). */
  readonly timeoutMs: number;
  /** Largest document accepted (bytes); a larger one fails the fetch. */
  readonly maxBytes: number;
  /** How long a fetched set is used before it is fetched again (ms). */
  readonly cacheMaxAgeMs: number;
  /** After a fetch, or a failed one, no other fetch of that URL for this long (ms): an unknown kid waits it out. */
  readonly cooldownMs: number;
  /** Plain http to a loopback host is allowed (tests); otherwise https only. */
  readonly allowHttpLoopback: boolean;
  /** Most URLs kept (oldest dropped first). */
  readonly maxSets?: number;
}

/** Key-set getters for jwks_uris, shared by every client and trusted issuer that names the same URL. */
export interface RemoteJwks {
  /** The getter for `uri`, or undefined when the URL may not be fetched (see jwksUriProblem). */
  get(uri: string): JWTVerifyGetKey | undefined;
}

/** Thrown by the bounded fetch; jose passes it through, and the verifier answers 'no_keys'. */
class JwksFetchRefused extends Error {}

/**
 * jose's createRemoteJWKSet does the caching (cacheMaxAge), the unknown-kid refetch with its
 * cooldown (cooldownDuration) and the timeout (timeoutDuration); it has no size cap and retries a
 * failed fetch on the next call. The custom fetch (guardedGet) adds both: the body is read up to
 * `maxBytes` and the fetch abandoned past it, and a URL whose fetch failed is not fetched again
 * until `cooldownMs` has passed. Redirects are not followed.
 */
export function createRemoteJwks(opts: RemoteJwksOptions): RemoteJwks {
  const sets = new Map<string, JWTVerifyGetKey>();
  const failedAt = new Map<string, number>();
  const maxSets = opts.maxSets ?? 1000;

  const boundedFetch: FetchImplementation = async (url, init) => {
    const failed = failedAt.get(url);
    if (failed !== undefined && Date.now() - failed < opts.cooldownMs)
      throw new JwksFetchRefused('jwks fetch cooling down after a failure');
    try {
      const res = await guardedGet(url, {
        timeoutMs: opts.timeoutMs,
        maxBytes: opts.maxBytes,
        allowHttp: opts.allowHttpLoopback,
        headers: Object.fromEntries(init.headers),
        signal: init.signal,
      });
      failedAt.delete(url);
      return new Response(new Uint8Array(res.body), { status: res.status });
    } catch (err) {
      failedAt.set(url, Date.now());
      if (failedAt.size > maxSets) failedAt.delete(failedAt.keys().next().value as string);
      throw err;
    }
  };

  return {
    get(uri) {
      if (jwksUriProblem(uri, opts.allowHttpLoopback)) return undefined;
      const known = sets.get(uri);
      if (known) return known;
      const set = createRemoteJWKSet(new URL(uri), {
        timeoutDuration: opts.timeoutMs,
        cooldownDuration: opts.cooldownMs,
        cacheMaxAge: opts.cacheMaxAgeMs,
        [customFetch]: boundedFetch,
      });
      sets.set(uri, set);
      if (sets.size > maxSets) sets.delete(sets.keys().next().value as string);
      return set;
    },
  };
}
