// Locates the redis-server binary on PATH or in the places Debian and Homebrew put it.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const FALLBACK_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin', '/opt/homebrew/bin'];

/** Returns the absolute path of an executable `redis-server`, or `null` when there is none. */
export function findRedisServer(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...FALLBACK_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, 'redis-server');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  return null;
}
