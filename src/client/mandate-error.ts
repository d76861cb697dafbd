// Errors the agent SDK throws, each with a stable string `code` callers can switch on.
import * as oauth from 'oauth4webapi';

/** Every `code` a {@link MandateError} may carry. */
export type MandateErrorCode =
  /** The broker refused the request (the OAuth `error` is in `error`). */
  | 'request_refused'
  /** The grant was revoked, suspended, expired or refused on refresh: ask for a new one. */
  | 'grant_revoked'
  /** Policy wants a human to approve the task first; poll with `awaitApproval`. */
  | 'approval_required'
  /** The broker could not be reached or answered something that is not OAuth. */
  | 'unavailable'
  /** Ending the task could not revoke its grant: it stays live until its ttl. */
  | 'revocation_failed';

/** Base class of the SDK's errors. */
export class MandateError extends Error {
  readonly code: MandateErrorCode;
  /** The OAuth error code the broker answered, when it answered one. */
  readonly error: string | undefined;
  /** The HTTP status the broker answered, when it answered. */
  readonly status: number | undefined;

  constructor(
    code: MandateErrorCode,
    message: string,
    options: { cause?: unknown; error?: string | undefined; status?: number | undefined } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = 'MandateError';
    this.code = code;
    this.error = options.error;
    this.status = options.status;
  }
}

/** Thrown by `task.getToken()` once the broker refuses to refresh the grant. */
export class GrantRevokedError extends MandateError {
  override readonly code = 'grant_revoked' as const;
  readonly grantId: string;

  constructor(grantId: string, options: { cause?: unknown; error?: string; status?: number } = {}) {
    super('grant_revoked', `grant ${grantId} is no longer active`, options);
    this.name = 'GrantRevokedError';
    this.grantId = grantId;
  }
}

/** Thrown when the token endpoint answers `approval_required` (OpenID CIBA poll follows). */
export class ApprovalRequiredError extends MandateError {
  override readonly code = 'approval_required' as const;
  /** Handle to poll with `grant_type=urn:openid:params:grant-type:ciba`. */
  readonly authReqId: string;
  /** Seconds until the approval request lapses. */
  readonly expiresInSec: number;
  /** Seconds to wait between polls. */
  readonly intervalSec: number;

  constructor(
    authReqId: string,
    expiresInSec: number,
    intervalSec: number,
    options: { cause?: unknown } = {},
  ) {
    super('approval_required', 'the task needs a human approval before a token is issued', {
      ...options,
      error: 'approval_required',
      status: 400,
    });
    this.name = 'ApprovalRequiredError';
    this.authReqId = authReqId;
    this.expiresInSec = expiresInSec;
    this.intervalSec = intervalSec;
  }
}

/** Maps oauth4webapi's and fetch's failures onto the SDK's error classes. */
export function toMandateError(err: unknown): MandateError {
  if (err instanceof MandateError) return err;
  if (err instanceof oauth.ResponseBodyError) {
    const body = err.cause;
    if (err.error === 'approval_required' && typeof body.auth_req_id === 'string') {
      return new ApprovalRequiredError(
        body.auth_req_id,
        typeof body.expires_in === 'number' ? body.expires_in : 300,
        typeof body.interval === 'number' ? body.interval : 5,
        { cause: err },
      );
    }
    const message = err.error_description ? `${err.error}: ${err.error_description}` : err.error;
    return new MandateError('request_refused', message, {
      cause: err,
      error: err.error,
      status: err.status,
    });
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    const code =
      err.cause[0]?.parameters.error ?? (err.status === 401 ? 'invalid_client' : 'invalid_request');
    return new MandateError('request_refused', code, {
      cause: err,
      error: code,
      status: err.status,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new MandateError('unavailable', `Mandate could not be reached: ${message}`, {
    cause: err,
  });
}
