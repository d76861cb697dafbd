// A config file for one test broker: YAML text written to a fresh temp directory.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes `yaml` to a fresh temp file; returns its path and a remover. */
export function tempConfig(yaml: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-cfg-'));
  const path = join(dir, 'mandate.yaml');
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
