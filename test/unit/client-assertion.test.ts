// The pure pieces of JWT client authentication: decoding, claim checks of private_key_jwt and workload tokens, subject_map matching, workload claims.
import { describe, expect, it } from 'vitest';
import {
  audienceList,
  checkClientAssertionClaims,
  checkWorkloadClaims,
  decodeCompactJwt,
  isAssertionAlg,
  isIssuerUrl,
} from '../../src/domain/client-assertion.ts';
import { jwksUriProblem } from '../../src/domain/key-source.ts';
import { matchSubject, type SubjectRule, workloadOf } from '../../src/domain/trusted-issuer.ts';

const NOW = 1_800_000_000;
const window = { nowSec: NOW, toleranceSec: 60 };
const ISSUER = 'https://mandate.example.com';
const good = { iss: 'agent-1', sub: 'agent-1', aud: ISSUER, exp: NOW + 60, iat: NOW, jti: 'j1' };
const expected = { clientId: 'agent-1', audiences: [ISSUER, `${ISSUER}/oauth/token`], ...window };
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('decodeCompactJwt', () => {
  it('reads header and payload of a compact JWS', () => {
    expect(decodeCompactJwt(`${b64({ alg: 'ES256' })}.${b64(good)}.c2ln`)).toEqual({
      header: { alg: 'ES256' },
      payload: good,
    });
  });
  it.each([
    ['two segments', `${b64({})}.${b64({})}`],
    ['an empty signature', `${b64({})}.${b64({})}.`],
    ['non-base64url', `${b64({})}.${b64({})}.a+b`],
    ['a JSON array payload', `${b64({})}.${b64([1])}.c2ln`],
    ['invalid UTF-8', `${b64({})}.${Buffer.from([0xff, 0xfe]).toString('base64url')}.c2ln`],
    ['too long', `${b64({})}.${'a'.repeat(9000)}.c2ln`],
  ])('refuses %s', (_n, text) => expect(decodeCompactJwt(text)).toBeUndefined());
});

describe('algorithms and routing', () => {
  it('takes the asymmetric algorithms only', () => {
    for (const alg of ['ES256', 'EdDSA', 'Ed25519', 'PS256', 'RS256'])
      expect(isAssertionAlg(alg)).toBe(true);
    for (const alg of ['none', 'HS256', 'HS512', 'ES384', 'RS512', '', undefined, 1])
      expect(isAssertionAlg(alg)).toBe(false);
  });
  it('sends URL issuers to federation and client ids to private_key_jwt', () => {
    expect(isIssuerUrl('https://token.actions.githubusercontent.com')).toBe(true);
    expect(isIssuerUrl('agent-1')).toBe(false);
    expect(isIssuerUrl(42)).toBe(false);
  });
  it('reads aud as a list', () => {
    expect(audienceList('a')).toEqual(['a']);
    expect(audienceList(['a', 'b'])).toEqual(['a', 'b']);
    expect(audienceList([1])).toEqual([]);
    expect(audienceList(undefined)).toEqual([]);
  });
});

describe('checkClientAssertionClaims', () => {
  it('accepts iss = sub = client_id, aud the issuer or an endpoint, exp within 5 min, a jti', () => {
    expect(checkClientAssertionClaims(good, expected)).toEqual({
      ok: true,
      value: { jti: 'j1', exp: NOW + 60 },
    });
    expect(
      checkClientAssertionClaims({ ...good, aud: ['x', `${ISSUER}/oauth/token`] }, expected).ok,
    ).toBe(true);
    expect(checkClientAssertionClaims({ ...good, exp: NOW + 300 }, expected).ok).toBe(true);
  });
  it.each([
    ['another iss', { iss: 'agent-2' }, 'wrong_issuer'],
    ['sub other than iss', { sub: 'agent-2' }, 'wrong_subject'],
    ['a foreign audience', { aud: 'https://evil.example.com' }, 'wrong_audience'],
    ['no audience', { aud: undefined }, 'wrong_audience'],
    ['an expired exp', { exp: NOW - 61 }, 'expired'],
    ['no exp', { exp: undefined }, 'malformed'],
    ['a string exp', { exp: String(NOW + 60) }, 'malformed'],
    ['exp an hour ahead', { exp: NOW + 3600 }, 'exp_too_far'],
    ['nbf in the future', { nbf: NOW + 600 }, 'not_yet_valid'],
    ['iat in the future', { iat: NOW + 600 }, 'not_yet_valid'],
    ['no jti', { jti: undefined }, 'missing_jti'],
    ['an empty jti', { jti: '' }, 'missing_jti'],
    ['a numeric jti', { jti: 7 }, 'missing_jti'],
  ])('refuses %s', (_n, over, reason) => {
    expect(checkClientAssertionClaims({ ...good, ...over }, expected)).toEqual({
      ok: false,
      reason,
    });
  });
});

describe('checkWorkloadClaims', () => {
  const wl = { issuer: 'https://k8s.example.com', audience: 'mandate', ...window };
  const token = {
    iss: wl.issuer,
    sub: 'system:serviceaccount:prod:billing',
    aud: ['mandate', 'k8s'],
    exp: NOW + 3600,
  };
  it('accepts a long-lived token of the issuer for the audience, without jti', () => {
    expect(checkWorkloadClaims(token, wl)).toEqual({ ok: true, value: { subject: token.sub } });
  });
  it.each([
    ['another issuer', { iss: 'https://evil.example.com' }, 'wrong_issuer'],
    ['another audience', { aud: 'other' }, 'wrong_audience'],
    ['expired', { exp: NOW - 120 }, 'expired'],
    ['no sub', { sub: undefined }, 'wrong_subject'],
  ])('refuses %s', (_n, over, reason) => {
    expect(checkWorkloadClaims({ ...token, ...over }, wl)).toEqual({ ok: false, reason });
  });
});

describe('subject_map and workload claims', () => {
  const rules: SubjectRule[] = [
    { match: { repository: 'acme/deployer', ref: 'refs/heads/main' }, client_id: 'deploy-main' },
    { match: { repository: 'acme/deployer' }, client_id: 'deploy-any' },
    { match: { sub: 'system:serviceaccount:prod:billing' }, client_id: 'billing' },
  ];
  it('takes the first rule whose claims all equal the token', () => {
    expect(matchSubject(rules, { repository: 'acme/deployer', ref: 'refs/heads/main' })).toBe(
      'deploy-main',
    );
    expect(matchSubject(rules, { repository: 'acme/deployer', ref: 'refs/heads/dev' })).toBe(
      'deploy-any',
    );
    expect(matchSubject(rules, { sub: 'system:serviceaccount:prod:billing' })).toBe('billing');
  });
  it('matches nothing on a near miss, a missing claim or an array', () => {
    expect(matchSubject(rules, { repository: 'acme/deployer2' })).toBeUndefined();
    expect(matchSubject(rules, { sub: 'system:serviceaccount:prod:billing2' })).toBeUndefined();
    expect(matchSubject(rules, { repository: ['acme/deployer'] })).toBeUndefined();
    expect(matchSubject(rules, {})).toBeUndefined();
  });
  it('keeps the named claims as strings or sets of strings', () => {
    const w = workloadOf(
      { issuer: 'https://i', claims: ['ref', 'run_number', 'groups', 'nested', 'absent'] },
      'sub-1',
      { ref: 'refs/heads/main', run_number: 42, groups: ['a', 'b'], nested: { x: 1 }, other: 'x' },
    );
    expect(w).toEqual({
      issuer: 'https://i',
      subject: 'sub-1',
      claims: { ref: 'refs/heads/main', run_number: '42', groups: ['a', 'b'] },
    });
  });
});

describe('jwksUriProblem', () => {
  it('takes https, and http only to loopback when allowed', () => {
    expect(jwksUriProblem('https://keys.example.com/jwks', false)).toBeUndefined();
    expect(jwksUriProblem('http://keys.example.com/jwks', false)).toBeDefined();
    expect(jwksUriProblem('http://127.0.0.1:8080/jwks', false)).toBeDefined();
    expect(jwksUriProblem('http://127.0.0.1:8080/jwks', true)).toBeUndefined();
    expect(jwksUriProblem('http://localhost/jwks', true)).toBeUndefined();
    expect(jwksUriProblem('http://10.0.0.1/jwks', true)).toBeDefined();
    expect(jwksUriProblem('https://u:p@keys.example.com/jwks', false)).toBeDefined();
    expect(jwksUriProblem('file:///etc/passwd', true)).toBeDefined();
  });
});
