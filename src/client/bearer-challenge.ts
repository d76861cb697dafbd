// RFC 6750 and RFC 9449 7.1 on the resource side: reading the access token and refusing with a challenge.
import { DPOP_ALGORITHMS } from '../domain/dpop.ts';

/** Error codes of a refused check (RFC 6750 section 3.1, RFC 9449 7.1, plus the fail-closed case). */
export type GuardError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'temporarily_unavailable';

/** A refused check: the status, the code and the challenge to answer with. */
export interface GuardRefusal {
  readonly ok: false;
  readonly status: 401 | 403 | 503;
  readonly error: GuardError;
  readonly errorDescription: string;
  /** RFC 6750 challenge to send as the `WWW-Authenticate` header. */
  readonly wwwAuthenticate: string;
}

/**
 * A refusal with its RFC 6750 `WWW-Authenticate` challenge for `realm`. The description is
 * reduced to the characters a quoted-string may hold; a request without credentials (and a
 * 503) gets a challenge without an error code (RFC 6750 3.1).
 */
export function bearerChallenge(
  realm: string,
  status: 401 | 403 | 503,
  error: GuardError,
  description: string,
  scheme: 'Bearer' | 'DPoP' = 'Bearer',
): GuardRefusal {
  const desc = description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ');
  // A DPoP challenge names the proof algorithms the resource accepts (RFC 9449 7.1).
  const head =
    scheme === 'DPoP'
      ? `DPoP realm="${quote(realm)}", algs="${DPOP_ALGORITHMS.join(' ')}"`
      : `Bearer realm="${quote(realm)}"`;
  const wwwAuthenticate =
    error === 'invalid_request' || status === 503
      ? head
      : `${head}, error="${error}", error_description="${desc}"`;
  return { ok: false, status, error, errorDescription: desc, wwwAuthenticate };
}

/** The access token of an `Authorization: Bearer` or `Authorization: DPoP` header, with its scheme. */
export interface PresentedToken {
  readonly scheme: 'Bearer' | 'DPoP';
  /** '' when the header names the scheme but its credential is malformed. */
  readonly token: string;
}

/** Reads a Bearer (RFC 6750) or DPoP (RFC 9449 7.1) credential; undefined when there is neither. */
export function presentedToken(header: string | null | undefined): PresentedToken | undefined {
  if (!header) return undefined;
  if (/^DPoP(\s|$)/i.test(header)) {
    const match = /^DPoP +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    return { scheme: 'DPoP', token: match?.[1] ?? '' };
  }
  const token = bearerToken(header);
  return token === undefined ? undefined : { scheme: 'Bearer', token };
}

/** The token of a `Bearer` header; undefined when there is none, '' when it is malformed. */
export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (match) return match[1] ?? '';
  return /^Bearer(\s|$)/i.test(header) ? '' : undefined;
}

function quote(value: string): string {
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}
