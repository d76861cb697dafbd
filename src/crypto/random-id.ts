// Identifiers and secrets from the CSPRNG, drawn from a pooled buffer: one randomFillSync call
// serves many requests (as node's own randomUUID does), where a randomBytes call per value costs
// a few microseconds each on the request path. Every byte is handed out once, then wiped.
import { randomBytes, randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

/** `bytes` random bytes as base64url (e.g. 32 for a 256-bit secret). */
export function randomBase64url(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes <= 0)
    throw new RangeError('bytes must be a positive integer');
  if (bytes > POOL_BYTES / 4) return randomBytes(bytes).toString('base64url');
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = pool.toString('base64url', offset, offset + bytes);
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return out;
}
