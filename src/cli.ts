// Entry point of the `mandate` bin: runs one command line and exits with its code.
import { readFile } from 'node:fs/promises';
import { runCli } from './cli/run-cli.ts';

const code = await runCli(
  process.argv.slice(2),
  {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    env: process.env,
    fetch: (input, init) => fetch(input, init),
    readFile: (path) => readFile(path, 'utf8'),
  },
  async () => {
    const [{ startMandate }, { serveProcesses }] = await Promise.all([
      import('./main.ts'),
      import('./serve-processes.ts'),
    ]);
    return (o) => serveProcesses(o.processes ?? 1, () => startMandate(o));
  },
);
// A running broker keeps the process alive on its own; failures end it at once with their code.
if (code !== 0) process.exit(code);
