// Per-file Redis key prefixes, so test files sharing one Redis never see each other's keys.
import { randomBytes } from 'node:crypto';

/**
 * Returns a fresh prefix such as `t:grant-store:9f2c61ab:`. `name` is reduced to `[a-z0-9_-]`
 * so it cannot introduce a hash tag or a glob character into key names.
 */
export function uniquePrefix(name: string): string {
  const safe = name.toLowerCase().replace(/[^a-z0-9_-]+/g, '-') || 'test';
  return `t:${safe}:${randomBytes(4).toString('hex')}:`;
}
