// Runs `mandate` command lines in-process against a broker URL, with real fetch and files.
import { readFile } from 'node:fs/promises';
import { runCli } from '../../src/cli/run-cli.ts';
import { ADMIN_TOKEN } from './broker.ts';

/** Runs one command line in-process with real fetch; returns its exit code and output. */
export async function runMandate(url: string, args: string[], env: Record<string, string> = {}) {
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
      throw new Error('not in this test');
    },
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}
