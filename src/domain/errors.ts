// Errors the caller caused or a dependency failed with; expected outcomes are values, not these.

/** RFC 6749 5.2, RFC 7009, RFC 9396, RFC 9449, OpenID CIBA and Mandate's own OAuth error codes. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'unsupported_token_type'
  | 'invalid_scope'
  | 'invalid_target'
  | 'invalid_authorization_details'
  | 'access_denied'
  | 'approval_required'
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'temporarily_unavailable'
  | 'server_error';

const STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  invalid_grant: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_response_type: 400,
  unsupported_token_type: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_authorization_details: 400,
  access_denied: 400,
  approval_required: 400,
  authorization_pending: 400,
  slow_down: 400,
  expired_token: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  temporarily_unavailable: 503,
  server_error: 500,
};

/** Every OAuth error code, in declaration order (what /openapi.json lists). */
export const OAUTH_ERROR_CODES = Object.keys(STATUS) as readonly OAuthErrorCode[];

/** An OAuth endpoint's error: rendered as RFC 6749 JSON with only RFC fields. */
export class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly status: number;
  /** Extra members of the error body (e.g. `auth_req_id` for approval_required). */
  readonly extra: Readonly<Record<string, string | number>>;
  /** Response headers the error carries (e.g. `DPoP-Nonce` with use_dpop_nonce). */
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    code: OAuthErrorCode,
    description?: string,
    extra: Record<string, string | number> = {},
    headers: Record<string, string> = {},
  ) {
    super(description ?? code);
    this.name = 'OAuthError';
    this.code = code;
    this.status = STATUS[code];
    this.extra = extra;
    this.headers = headers;
  }
}

/** An admin API error: rendered as RFC 9457 problem+json. */
export class ProblemError extends Error {
  readonly status: number;
  readonly title: string;
  readonly errors: ReadonlyArray<{ path: string; message: string }> | undefined;

  constructor(
    status: number,
    title: string,
    detail?: string,
    errors?: Array<{ path: string; message: string }>,
  ) {
    super(detail ?? title);
    this.name = 'ProblemError';
    this.status = status;
    this.title = title;
    this.errors = errors;
  }
}

/** The store (Redis) could not be reached or did not answer in time. Callers fail closed. */
export class StoreUnavailable extends Error {
  constructor(cause?: unknown) {
    super('store unavailable', { cause });
    this.name = 'StoreUnavailable';
  }
}

/**
 * A write the caller must not be told is done: Redis did not confirm it on the required number of
 * replicas (`redis.min_replicas_ack`) in time. It may have happened on the primary: "not confirmed
 * durable", never "not done". Answered like an outage (503), and nothing is retried silently.
 */
export class WriteNotConfirmed extends StoreUnavailable {
  constructor(detail: string, cause?: unknown) {
    super(cause);
    this.name = 'WriteNotConfirmed';
    this.message = `write not confirmed durable: ${detail}`;
  }
}

/** The state a decision was made on changed before its record could land: nothing was written; decide again. */
export class StateChanged extends Error {
  constructor() {
    super('state changed since it was read');
    this.name = 'StateChanged';
  }
}
