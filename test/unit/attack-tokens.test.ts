// The security suite's attack tokens: well formed where they should be, and none of them verifiable.
import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, decodeProtectedHeader, type JWK, jwtVerify, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AttackToken,
  buildAttackTokens,
  REQUIRED_CLAIMS,
  rawEs256Signer,
} from '../support/attack-tokens.ts';

const ISSUER = 'https://mandate.test';
const AUDIENCE = 'https://crm.example.com';
const NOW_SEC = 1_704_276_000;

const broker = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const publicJwk: JWK = {
  ...(broker.publicKey.export({ format: 'jwk' }) as JWK),
  kid: 'broker-1',
  alg: 'ES256',
  use: 'sig',
};
const claims = {
  iss: ISSUER,
  sub: 'agent-1',
  client_id: 'agent-1',
  aud: [AUDIENCE],
  iat: NOW_SEC,
  exp: NOW_SEC + 300,
  jti: 'jti-1',
  grant_id: 'g-1',
  authorization_details: [
    { type: 'agent_task', task_id: 'T-1', actions: ['read'], locations: [AUDIENCE] },
  ],
};

/** What the broker must do at least: jose's checks plus the types of the claims jose does not check. */
async function strictVerify(token: string): Promise<void> {
  const { payload } = await jwtVerify(token, broker.publicKey, {
    algorithms: ['ES256'],
    typ: 'at+jwt',
    issuer: ISSUER,
    audience: AUDIENCE,
    currentDate: new Date(NOW_SEC * 1000),
    clockTolerance: 60,
    // Without maxTokenAge jose accepts an iat in the future.
    maxTokenAge: 900,
    requiredClaims: [...REQUIRED_CLAIMS],
  });
  for (const claim of ['sub', 'jti', 'client_id', 'grant_id'] as const) {
    if (typeof payload[claim] !== 'string') throw new Error(`${claim} is not a string`);
  }
  if (!Array.isArray(payload.authorization_details))
    throw new Error('authorization_details is not an array');
}

let validToken: string;
let tokens: AttackToken[];
const byName = (name: string): string => {
  const found = tokens.find((t) => t.name === name);
  if (!found) throw new Error(`no attack token ${name}`);
  return found.token;
};

beforeAll(async () => {
  validToken = await new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'broker-1' })
    .sign(broker.privateKey);
  tokens = await buildAttackTokens({
    validToken,
    publicJwk,
    issuer: ISSUER,
    audience: AUDIENCE,
    claims,
    keyUrl: 'http://127.0.0.1:1/keys',
    resign: rawEs256Signer(broker.privateKey),
    nowSec: NOW_SEC,
  });
});

describe('buildAttackTokens', () => {
  it('starts from a token the strict verifier accepts', async () => {
    await expect(strictVerify(validToken)).resolves.toBeUndefined();
  });

  it('names every token once and gives each a string', () => {
    expect(tokens.length).toBeGreaterThan(80);
    expect(new Set(tokens.map((t) => t.name)).size).toBe(tokens.length);
    for (const t of tokens) expect(typeof t.token).toBe('string');
  });

  it('covers every family the security suite needs', () => {
    const names = tokens.map((t) => t.name);
    for (const prefix of [
      'alg-none:none:',
      'alg-none:None:',
      'alg-none:NONE:',
      'alg-none:nOnE:',
      'es256:zero-signature',
      'hs256:public-key-pem',
      'hs256:public-jwk-json',
      'hs256:public-x-coordinate',
      'hs256:secret:empty',
      'hs256:secret:secret',
      'hs256:secret:password',
      'header:jwk-embedded',
      'header:jku',
      'header:x5u',
      'kid-injection:path-traversal',
      'kid-injection:sql',
      'kid-injection:jndi',
      'kid-injection:null-byte',
      'kid:unknown',
      'header:crit-unknown',
      'header:crit-b64-false',
      'serialization:jws-json-general',
      'serialization:jws-json-flattened',
      'serialization:jwe-compact',
      'header:cty-jwt-nested',
      'duplicate-member:header-alg',
      'duplicate-member:payload-iss',
      'oversized:1mb',
      'claims:expired',
      'claims:nbf-future',
      'claims:iat-future',
      'claims:foreign-issuer',
      'claims:foreign-audience',
      'typ:jwt',
    ]) {
      expect(
        names.some((n) => n.startsWith(prefix)),
        prefix,
      ).toBe(true);
    }
    for (const claim of REQUIRED_CLAIMS) {
      expect(names).toContain(`claims:missing:${claim}`);
      expect(names).toContain(`claims:wrong-type:${claim}`);
    }
  });

  it('refuses every one of them under a strict verifier', async () => {
    const accepted: string[] = [];
    for (const t of tokens) {
      try {
        await strictVerify(t.token);
        accepted.push(t.name);
      } catch {
        // refused, as it must be
      }
    }
    expect(accepted).toEqual([]);
  });

  it('signs claim and typ variants with the broker key when given resign, so only the claim is wrong', async () => {
    for (const name of [
      'claims:missing:exp',
      'claims:wrong-type:sub',
      'claims:foreign-audience',
      'typ:jwt',
      'header:crit-b64-false',
    ]) {
      await expect(compactVerify(byName(name), broker.publicKey), name).resolves.toBeDefined();
    }
  });

  it('leaves the payload the valid token signed in the alg none and HMAC variants', () => {
    const payloadSegment = validToken.split('.')[1];
    for (const name of [
      'alg-none:nOnE:empty-signature',
      'hs256:public-key-pem',
      'es256:zero-signature',
    ]) {
      expect(byName(name).split('.')[1]).toBe(payloadSegment);
    }
    expect(decodeProtectedHeader(byName('alg-none:NONE:with-signature')).alg).toBe('NONE');
    expect(byName('alg-none:none:empty-signature').endsWith('.')).toBe(true);
    expect(Buffer.from(byName('es256:zero-signature').split('.')[2] ?? '', 'base64url')).toEqual(
      Buffer.alloc(64),
    );
  });

  it('builds the structural variants with the right shape', () => {
    expect(byName('serialization:jwe-compact').split('.')).toHaveLength(5);
    expect(JSON.parse(byName('serialization:jws-json-general')).signatures).toHaveLength(1);
    expect(JSON.parse(byName('serialization:jws-json-flattened')).signature).toBe(
      validToken.split('.')[2],
    );
    expect(decodeProtectedHeader(byName('header:jku')).jku).toBe('http://127.0.0.1:1/keys');
    expect(decodeProtectedHeader(byName('header:jwk-embedded')).jwk).toMatchObject({
      kty: 'EC',
      crv: 'P-256',
    });
    expect(decodeProtectedHeader(byName('kid-injection:null-byte')).kid).toContain('\u0000');
    expect(byName('oversized:1mb').length).toBeGreaterThan(1_000_000);
    const dupHeader = Buffer.from(
      byName('duplicate-member:header-alg').split('.')[0] ?? '',
      'base64url',
    ).toString();
    expect(dupHeader.match(/"alg"/g)).toHaveLength(2);
  });

  it('signs with an attacker key when no resign hook is given', async () => {
    const unsigned = await buildAttackTokens({
      validToken,
      publicJwk,
      issuer: ISSUER,
      audience: AUDIENCE,
      claims,
      nowSec: NOW_SEC,
    });
    const token = unsigned.find((t) => t.name === 'claims:missing:exp')?.token ?? '';
    await expect(compactVerify(token, broker.publicKey)).rejects.toThrow();
    expect(decodeProtectedHeader(token).kid).toBe('broker-1');
  });
});
