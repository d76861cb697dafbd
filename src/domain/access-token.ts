// The access token's claims (RFC 9068 profile) and the refresh token's shape.
import { z } from 'zod';
import { ActClaimSchema } from './delegation.ts';
import { AgentTaskSchema } from './intent.ts';

/** The scope of a caller token: Mandate's own API, as a resource client. */
export const CALLER_SCOPE = 'mandate:resource';

/** Claims every access token Mandate issues carries; anything else is not ours. */
export const AccessTokenClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  client_id: z.string().min(1),
  aud: z.union([z.string(), z.array(z.string()).min(1)]),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1).max(128),
  grant_id: z.string().min(1).max(128),
  scope: z.string().optional(),
  authorization_details: z.array(AgentTaskSchema).min(1),
  cnf: z.object({ jkt: z.string() }).optional(),
  /** RFC 8693 4.1: who acts, the prior actors nested (delegated grants only). */
  act: ActClaimSchema.optional(),
});
export type AccessTokenClaims = z.infer<typeof AccessTokenClaimsSchema>;

/** A resource client's own token for Mandate's JSON API (see CallerTokens): no grant, `aud` = the issuer. */
export const CallerTokenClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string().min(1),
  client_id: z.string().min(1),
  aud: z.string().min(1),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string().min(1).max(128),
  scope: z.literal(CALLER_SCOPE),
});
export type CallerTokenClaims = z.infer<typeof CallerTokenClaimsSchema>;

/** The audiences of a token as a list. */
export function audiences(claims: Pick<AccessTokenClaims, 'aud'>): string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
}

/** Refresh tokens are opaque to clients: `mrt.<grant id>.<secret>`; only a hash of the secret is stored. */
const REFRESH_PREFIX = 'mrt.';

export function formatRefreshToken(grantId: string, secret: string): string {
  return `${REFRESH_PREFIX}${grantId}.${secret}`;
}

export function parseRefreshToken(token: string): { grantId: string; secret: string } | undefined {
  if (!token.startsWith(REFRESH_PREFIX) || token.length > 256) return undefined;
  const [grantId, secret, ...rest] = token.slice(REFRESH_PREFIX.length).split('.');
  if (!grantId || !secret || rest.length || !/^[A-Za-z0-9_-]+$/.test(grantId + secret))
    return undefined;
  return { grantId, secret };
}

/** Why a presented access token is not accepted; recorded, never shown to the presenter. */
export type TokenRejection =
  | 'malformed'
  | 'bad_signature'
  | 'unknown_key'
  | 'wrong_type'
  | 'wrong_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'bad_claims'
  | 'foreign_audience'
  | 'grant_missing'
  | 'grant_inactive'
  | 'token_revoked'
  | 'unavailable';

export class InvalidToken extends Error {
  readonly reason: TokenRejection;
  constructor(reason: TokenRejection) {
    super(reason);
    this.name = 'InvalidToken';
    this.reason = reason;
  }
}

/**
 * What a grant remembers of a used refresh token to detect its replay: 16 characters (96 bits)
 * of its `sha256:` hash, enough that a guess never collides, small enough to keep a few inline.
 */
export function refreshHashMark(hash: string): string {
  return hash.slice(7, 23);
}

/**
 * A jti names its grant (`<grant id>.<random>`), so revoking or signalling by jti needs no
 * per-token index in Redis. The grant id is only a lookup hint: the token's grant is checked anyway.
 */
export function jtiFor(grantId: string, random: string): string {
  return `${grantId}.${random}`;
}

export function grantIdOfJti(jti: string): string | undefined {
  const dot = jti.indexOf('.');
  const id = dot > 0 ? jti.slice(0, dot) : '';
  return /^g_[A-Za-z0-9_-]{1,64}$/.test(id) ? id : undefined;
}
