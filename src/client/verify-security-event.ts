// A pushed CAEP Security Event Token checked against Mandate's keys, answered with RFC 8935 codes.
import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { CAEP_EVENT_TYPE } from '../domain/caep-event-types.ts';
import { isTokenFault, MANDATE_ALGORITHMS } from './mandate-jwt.ts';

/** Largest SET a receiver reads (RFC 8935 push body); Mandate's are well under 2 KiB. */
export const MAX_SET_BYTES = 64 * 1024;

/**
 * RFC 8935 section 2.4 codes a receiver answers a refused SET with; `temporarily_unavailable`
 * is not one of them: the keys could not be fetched, so the transmitter should retry.
 */
export type SecurityEventError =
  | 'invalid_request'
  | 'invalid_key'
  | 'invalid_issuer'
  | 'invalid_audience'
  | 'authentication_failed'
  | 'temporarily_unavailable';

export type SecurityEventResult =
  | {
      readonly ok: true;
      /** The grant the event is about (the first, should one SET carry several events). */
      readonly grantId: string;
      /** How many cached permits were dropped. */
      readonly invalidated: number;
    }
  | SecurityEventRefusal;

/** A SET refused, with its RFC 8935 code. */
export interface SecurityEventRefusal {
  readonly ok: false;
  readonly grantId?: undefined;
  readonly err: SecurityEventError;
  readonly description: string;
}

const CAEP_EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(CAEP_EVENT_TYPE));

/** A refused SET as a result value. */
export function securityEventRefusal(
  err: SecurityEventError,
  description: string,
): SecurityEventRefusal {
  return { ok: false, err, description };
}

/**
 * Verifies a compact SET (`typ: secevent+jwt`, `iss`, `aud`, an asymmetric signature from
 * `jwks`) and returns the grant ids its CAEP `session-revoked` / `token-claims-change` events
 * name, at least one; anything else is a refusal. Never throws.
 */
export async function verifySecurityEvent(
  compact: string,
  jwks: JWTVerifyGetKey,
  expected: { readonly issuer: string; readonly audience: string; readonly now: () => number },
): Promise<
  { readonly ok: true; readonly grantIds: readonly [string, ...string[]] } | SecurityEventRefusal
> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(compact, jwks, {
      issuer: expected.issuer,
      audience: expected.audience,
      typ: 'secevent+jwt',
      algorithms: MANDATE_ALGORITHMS,
      currentDate: new Date(expected.now()),
    }));
  } catch (err) {
    return setRefusal(err);
  }
  const [first, ...more] = eventGrantIds(payload);
  if (first === undefined) {
    return securityEventRefusal(
      'invalid_request',
      'the SET has no CAEP session-revoked or token-claims-change event with an opaque subject',
    );
  }
  return { ok: true, grantIds: [first, ...more] };
}

/** The RFC 8935 code for a SET jose refused; key-fetch trouble is the transmitter's to retry. */
function setRefusal(err: unknown): SecurityEventRefusal {
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iss')
      return securityEventRefusal('invalid_issuer', 'the SET is from another issuer');
    if (err.claim === 'aud')
      return securityEventRefusal('invalid_audience', 'the SET is for another audience');
    return securityEventRefusal('invalid_request', `the SET claim ${err.claim} is not valid`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return securityEventRefusal('authentication_failed', 'the SET signature does not verify');
  if (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWKSMultipleMatchingKeys ||
    err instanceof errors.JOSEAlgNotAllowed ||
    err instanceof errors.JOSENotSupported
  )
    return securityEventRefusal('invalid_key', 'the SET is not signed by a key of the issuer');
  if (isTokenFault(err))
    return securityEventRefusal('invalid_request', 'the body is not a valid Security Event Token');
  return securityEventRefusal('temporarily_unavailable', 'the signing keys could not be fetched');
}

/** Grant ids named by the CAEP events of a verified SET (RFC 8417 `events`, subject `opaque`). */
function eventGrantIds(payload: JWTPayload): string[] {
  const events = payload.events;
  if (!isRecord(events)) return [];
  const ids = new Set<string>();
  for (const [type, event] of Object.entries(events)) {
    if (!CAEP_EVENT_TYPES.has(type) || !isRecord(event)) continue;
    // CAEP 1.0 puts the subject in the event; SSF 1.0 moved it to the top-level `sub_id`.
    const subject = isRecord(event.subject) ? event.subject : payload.sub_id;
    if (
      isRecord(subject) &&
      subject.format === 'opaque' &&
      typeof subject.id === 'string' &&
      subject.id
    )
      ids.add(subject.id);
  }
  return [...ids];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
