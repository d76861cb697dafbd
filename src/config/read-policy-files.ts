// Reads the default Cedar policy set and its schema from the folders config names, at boot.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkSchema } from '../policy/cedar-policy-set.ts';
import { ConfigError, type LoadedConfig } from './load-config.ts';

/** Reads the default policy set (every *.cedar file of the folder, in name order) and the schema. */
export function readPolicyFiles(loaded: LoadedConfig): { text: string; schema: string } {
  const where = loaded.file ?? '(defaults)';
  const dir = resolve(loaded.config.policy.dir);
  const schemaPath = resolve(loaded.config.policy.schema);
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith('.cedar'))
      .sort();
  } catch {
    throw new ConfigError(`config error in ${where}:\n  policy.dir: cannot read ${dir}`);
  }
  if (!files.length)
    throw new ConfigError(`config error in ${where}:\n  policy.dir: ${dir} holds no .cedar file`);
  let schema: string;
  try {
    schema = readFileSync(schemaPath, 'utf8');
  } catch {
    throw new ConfigError(`config error in ${where}:\n  policy.schema: cannot read ${schemaPath}`);
  }
  const problem = checkSchema(schema);
  if (problem) throw new ConfigError(`config error in ${schemaPath}:\n  policy.schema: ${problem}`);
  return { text: files.map((f) => readFileSync(join(dir, f), 'utf8')).join('\n'), schema };
}
