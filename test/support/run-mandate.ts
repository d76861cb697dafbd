// Runs one `mandate` command line in-process against a broker, with real fetch: exit code and output.
import { readFile } from 'node:fs/promises';
import { runCli } from '../../src/cli/run-cli.ts';
import { ADMIN_TOKEN } from './broker.ts';

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** `mandate <args>` with MANDATE_URL = `url` and the test admin token (unless `env` overrides them). */
export async function runMandate(
  url: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    args,
    {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: { MANDATE_URL: url, MANDATE_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      fetch: (input, init) => fetch(input, init),
      readFile: (path) => readFile(path, 'utf8'),
    },
    async () => {
      throw new Error('process commands are not run in-process');
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}
