// Client ID Metadata Documents: which client_id URLs name one, what the document must hold, and redirect_uri matching.
import { z } from 'zod';
import { redirectUriProblem } from './client.ts';
import { OAuthError } from './errors.ts';
import { jwksUriProblem, PublicJwksSchema } from './key-source.ts';

/** A client known by its Client ID Metadata Document (client_id is the document's https URL). */
export interface MetadataClient {
  readonly client_id: string; // the URL
  readonly client_name?: string;
  readonly redirect_uris: readonly string[];
  readonly token_endpoint_auth_method: 'none' | 'private_key_jwt';
  readonly jwks_uri?: string;
  readonly jwks?: { keys: Record<string, unknown>[] };
}
export interface ClientMetadataDocuments {
  /**
   * Fetches (or reads from cache) and validates the document; throws OAuthError('invalid_client',
   * ...) when it cannot be used, a DocumentUnreachable when it could not be had just now.
   */
  resolve(clientIdUrl: string): Promise<MetadataClient>;
}

/**
 * A document (or its jwks_uri) that could not be had just now: no answer in time, a connection
 * that failed, an HTTP 5xx. Still invalid_client to whoever names the client_id at
 * /oauth/authorize; a client authenticating with the document's keys is told to try again
 * (temporarily_unavailable) rather than refused as a bad credential.
 */
export class DocumentUnreachable extends OAuthError {
  constructor(description: string) {
    super('invalid_client', description);
  }
}

/** Longest client_id URL accepted (it is also a cache key and a log field). */
export const MAX_CLIENT_ID_URL_LENGTH = 2048;
/** Largest document read (bytes); reading stops past it. */
export const CLIENT_METADATA_MAX_BYTES = 65_536;
/** Longest one document fetch may take, connect to last byte (ms). */
export const CLIENT_METADATA_TIMEOUT_MS = 5000;

/** True when a client_id is meant as a metadata document URL (an https URL); other ids are registered clients. */
export function isClientIdUrl(clientId: string): boolean {
  return clientId.startsWith('https://');
}

/**
 * Why `url` cannot be a client_id metadata document URL, or undefined: https with a path, no
 * credentials, no fragment, no `.` or `..` path segment (the draft's rules), and bounded length.
 */
export function clientIdUrlProblem(url: string): string | undefined {
  if (url.length > MAX_CLIENT_ID_URL_LENGTH)
    return `is longer than ${MAX_CLIENT_ID_URL_LENGTH} characters`;
  if (!URL.canParse(url)) return 'is not an absolute URL';
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:') return 'must be an https URL';
  if (parsed.username || parsed.password || /^https:\/\/[^/?#]*@/i.test(url))
    return 'must not carry credentials';
  if (url.includes('#')) return 'must not have a fragment';
  // The URL parser removes dot segments, so they are looked for in the text as sent.
  const path = /^https:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] ?? '';
  if (path === '' || path === '/') return 'must have a path';
  const segments = path.split('/').map((s) => s.replace(/%2e/gi, '.'));
  if (segments.some((s) => s === '.' || s === '..')) return 'must not have . or .. path segments';
  return undefined;
}

const Text = (max: number) => z.string().min(1).max(max);

const RedirectUri = z
  .string()
  .max(2048)
  .superRefine((v, ctx) => {
    const problem = redirectUriProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Members a public or key-authenticated client's document may never hold. */
const SECRET_MEMBERS = ['client_secret', 'client_secret_expires_at'] as const;

/**
 * A Client ID Metadata Document (RFC 7591 client metadata). Members Mandate does not use are
 * allowed (the draft lets clients publish any metadata); the whole body is capped at fetch time.
 * An absent token_endpoint_auth_method means `none`: a document cannot hold a secret, so RFC
 * 7591's `client_secret_basic` default cannot apply.
 */
export const ClientMetadataDocumentSchema = z
  .looseObject({
    client_id: z.string().min(1).max(MAX_CLIENT_ID_URL_LENGTH),
    client_name: Text(200).optional(),
    redirect_uris: z.array(RedirectUri).min(1).max(32),
    token_endpoint_auth_method: z
      .string()
      .max(64)
      .default('none')
      .refine(
        (m): m is 'none' | 'private_key_jwt' => m === 'none' || m === 'private_key_jwt',
        'must be none or private_key_jwt (a metadata document cannot hold a client secret)',
      ),
    jwks_uri: z.string().max(2048).optional(),
    jwks: PublicJwksSchema.optional(),
    grant_types: z.array(Text(128)).max(16).optional(),
    response_types: z.array(Text(64)).max(16).optional(),
  })
  .superRefine((doc, ctx) => {
    for (const member of SECRET_MEMBERS)
      if (member in doc)
        ctx.addIssue({
          code: 'custom',
          path: [member],
          message: 'a metadata document must not hold a client secret',
        });
    if (doc.jwks_uri !== undefined) {
      const problem = jwksUriProblem(doc.jwks_uri, false);
      if (problem) ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: problem });
    }
    if (doc.token_endpoint_auth_method === 'private_key_jwt') {
      if ((doc.jwks === undefined) === (doc.jwks_uri === undefined))
        ctx.addIssue({
          code: 'custom',
          path: ['jwks'],
          message: 'private_key_jwt needs exactly one of jwks and jwks_uri',
        });
    } else if (doc.jwks !== undefined || doc.jwks_uri !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['jwks'],
        message: 'keys are for private_key_jwt clients only',
      });
    }
  });

/**
 * Validates a fetched document for `url`: its client_id must equal the URL exactly (a simple
 * string comparison, as the draft requires). Returns the client, or the problem as text naming
 * the member.
 */
export function readClientMetadata(
  url: string,
  document: unknown,
): { ok: true; client: MetadataClient } | { ok: false; problem: string } {
  const parsed = ClientMetadataDocumentSchema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'document';
    return { ok: false, problem: `${where}: ${issue?.message ?? 'invalid'}` };
  }
  const doc = parsed.data;
  if (doc.client_id !== url)
    return {
      ok: false,
      problem: 'client_id: does not equal the URL the document was fetched from',
    };
  const client: MetadataClient = {
    client_id: doc.client_id,
    redirect_uris: doc.redirect_uris,
    token_endpoint_auth_method: doc.token_endpoint_auth_method as 'none' | 'private_key_jwt',
    ...(doc.client_name !== undefined && { client_name: doc.client_name }),
    ...(doc.jwks_uri !== undefined && { jwks_uri: doc.jwks_uri }),
    ...(doc.jwks !== undefined && { jwks: doc.jwks }),
  };
  return { ok: true, client };
}

/** What the fetcher's cache may keep a document for (seconds), from config. */
export interface CacheBounds {
  readonly minSec: number;
  readonly maxSec: number;
}

/**
 * How long a fetched document may be used, from its Cache-Control header: 0 (fetch again every
 * time) for `no-store` or `no-cache`; `max-age` clamped to the bounds; the lower bound when the
 * header says nothing usable.
 */
export function cacheLifetimeSec(cacheControl: string | undefined, bounds: CacheBounds): number {
  const directives = (cacheControl ?? '')
    .toLowerCase()
    .split(',')
    .map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache')) return 0;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  const seconds = maxAge ? Number(maxAge.slice('max-age='.length).replace(/^"|"$/g, '')) : NaN;
  if (!Number.isInteger(seconds) || seconds < 0) return bounds.minSec;
  return Math.min(bounds.maxSec, Math.max(bounds.minSec, seconds));
}
