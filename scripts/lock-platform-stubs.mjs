// Re-adds lock entries for other platforms' optional binaries that this mirror does not serve.
// `npm ci` insists every optional dependency is in the lock, but skips (never fetches) an entry
// whose os/cpu do not match the machine, so a stub with the right os/cpu is enough.
// Run after `npm install` changes the lock: `node scripts/lock-platform-stubs.mjs`.
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORMS = {
  'android-arm64': [['android'], ['arm64']],
  'android-x64': [['android'], ['x64']],
  'darwin-arm64': [['darwin'], ['arm64']],
  'darwin-x64': [['darwin'], ['x64']],
  'linux-arm': [['linux'], ['arm']],
  'linux-arm64': [['linux'], ['arm64']],
  'linux-arm64-musl': [['linux'], ['arm64'], ['musl']],
  'linux-x64-musl': [['linux'], ['x64'], ['musl']],
  'win32-arm64': [['win32'], ['arm64']],
  'win32-x64': [['win32'], ['x64']],
};

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key]) continue;
    const platform = Object.keys(PLATFORMS).find((p) => name.endsWith(`-${p}`));
    if (!platform)
      throw new Error(`${path}: optional ${name} is missing and is no platform binary`);
    const [os, cpu, libc] = PLATFORMS[platform];
    lock.packages[key] = { version, optional: true, os, cpu, ...(libc ? { libc } : {}) };
    added += 1;
  }
}
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform stubs`);
