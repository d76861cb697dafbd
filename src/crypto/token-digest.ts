// The digest Mandate keeps of each access token it issues, and the constant-time check of a presented token against it.
import { hash, timingSafeEqual } from 'node:crypto';

/**
 * SHA-256 of the token's exact text, base64url (43 characters). Stored beside the token's jti
 * when it is issued; see docs/architecture.md ("Own tokens checked by digest") for why an
 * unkeyed hash is enough: what it proves is that the presented bytes are the issued ones.
 */
export function tokenDigest(token: string): string {
  return hash('sha256', token, 'base64url');
}

/** Whether `token` is the token whose digest is `stored`, compared in constant time. */
export function matchesTokenDigest(token: string, stored: string): boolean {
  const expected = Buffer.from(stored, 'base64url');
  const actual = hash('sha256', token, 'buffer');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
