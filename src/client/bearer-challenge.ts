// RFC 6750 on the resource side: reading the Bearer token and refusing with its challenge.

/** Error codes of a refused check (RFC 6750 section 3.1 plus the fail-closed case). */
export type GuardError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
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
): GuardRefusal {
  const desc = description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, ' ');
  const wwwAuthenticate =
    error === 'invalid_request' || status === 503
      ? `Bearer realm="${quote(realm)}"`
      : `Bearer realm="${quote(realm)}", error="${error}", error_description="${desc}"`;
  return { ok: false, status, error, errorDescription: desc, wwwAuthenticate };
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
