// A Mandate access token verified as jose's jwtVerify would, with ES256 signatures checked by node:crypto (jose still fetches and selects the key).
import { verify as cryptoVerify, KeyObject } from 'node:crypto';
import { errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';

export interface MandateJwtChecks {
  readonly issuer: string;
  readonly audience: string;
  /** The `typ` header the token must carry (`at+jwt`), compared as jose does. */
  readonly typ: string;
  readonly algorithms: readonly string[];
  readonly currentDate: Date;
}

/** node:crypto keys made from jose's CryptoKeys, once per key. */
const nodeKeys = new WeakMap<object, KeyObject>();

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The verified claims of `token`, or a jose error (the same classes and codes jwtVerify throws).
 * An ES256 token with a plain header (no `crit`, no `b64`) and a P-256 key has its signature
 * checked by node:crypto and its claims as jose checks them (`typ`, `iss`, `aud`, `nbf`, `exp`
 * with no clock tolerance, `iat` a number); anything else goes to jose's jwtVerify whole.
 * node:crypto costs about a third less CPU than jose's WebCrypto verify per token (docs/performance.md).
 */
export async function verifyMandateJwt<T extends JWTPayload>(
  token: string,
  getKey: JWTVerifyGetKey,
  checks: MandateJwtChecks,
): Promise<T> {
  const whole = async () =>
    (
      await jwtVerify<T>(token, getKey, {
        ...checks,
        algorithms: [...checks.algorithms],
      })
    ).payload;
  const parts = token.split('.');
  if (parts.length !== 3 || !checks.algorithms.includes('ES256')) return whole();
  const [h = '', p = '', s = ''] = parts;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(strictUtf8.decode(Buffer.from(h, 'base64url')));
  } catch {
    return whole();
  }
  if (
    header === null ||
    typeof header !== 'object' ||
    header.alg !== 'ES256' ||
    header.crit !== undefined ||
    header.b64 !== undefined
  )
    return whole();
  const key = await getKey(header as never, { payload: p, signature: s });
  const nodeKey = asNodeKey(key);
  if (nodeKey?.asymmetricKeyDetails?.namedCurve !== 'prime256v1' || nodeKey.type !== 'public')
    return whole();
  const signature = Buffer.from(s, 'base64url');
  const valid =
    signature.length === 64 &&
    cryptoVerify(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key: nodeKey, dsaEncoding: 'ieee-p1363' },
      signature,
    );
  if (!valid) throw new errors.JWSSignatureVerificationFailed();
  return checkClaims<T>(header, p, checks);
}

function asNodeKey(key: unknown): KeyObject | undefined {
  if (key instanceof KeyObject) return key;
  if (!(key instanceof CryptoKey)) return undefined;
  let made = nodeKeys.get(key);
  if (!made) {
    made = KeyObject.from(key);
    nodeKeys.set(key, made);
  }
  return made;
}

const normalizeTyp = (v: string) => {
  const lower = v.toLowerCase();
  return v.includes('/') ? lower : `application/${lower}`;
};

/** jose's validateClaimsSet for these checks, with its errors. */
function checkClaims<T extends JWTPayload>(
  header: Record<string, unknown>,
  payloadSegment: string,
  checks: MandateJwtChecks,
): T {
  let claims: Record<string, unknown>;
  try {
    claims = JSON.parse(strictUtf8.decode(Buffer.from(payloadSegment, 'base64url')));
  } catch (cause) {
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object', { cause });
  }
  if (claims === null || typeof claims !== 'object' || Array.isArray(claims))
    throw new errors.JWTInvalid('JWT Claims Set must be a top-level JSON object');
  const failed = (claim: string, message = `unexpected "${claim}" claim value`) =>
    new errors.JWTClaimValidationFailed(message, claims, claim, 'check_failed');
  if (typeof header.typ !== 'string' || normalizeTyp(header.typ) !== normalizeTyp(checks.typ))
    throw failed('typ', 'unexpected "typ" JWT header value');
  for (const claim of ['aud', 'iss'])
    if (!Object.hasOwn(claims, claim))
      throw new errors.JWTClaimValidationFailed(
        `missing required "${claim}" claim`,
        claims,
        claim,
        'missing',
      );
  if (claims.iss !== checks.issuer) throw failed('iss');
  const aud = claims.aud;
  if (!(aud === checks.audience || (Array.isArray(aud) && aud.includes(checks.audience))))
    throw failed('aud');
  const now = Math.floor(checks.currentDate.getTime() / 1000);
  const numeric = (claim: string) => {
    const value = claims[claim];
    if (value !== undefined && typeof value !== 'number')
      throw new errors.JWTClaimValidationFailed(
        `"${claim}" claim must be a number`,
        claims,
        claim,
        'invalid',
      );
    return value as number | undefined;
  };
  numeric('iat');
  const nbf = numeric('nbf');
  if (nbf !== undefined && nbf > now) throw failed('nbf', '"nbf" claim timestamp check failed');
  const exp = numeric('exp');
  if (exp !== undefined && exp <= now)
    throw new errors.JWTExpired(
      '"exp" claim timestamp check failed',
      claims,
      'exp',
      'check_failed',
    );
  return claims as T;
}
