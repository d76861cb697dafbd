// The `mandate` command line: process commands plus admin and OAuth commands over HTTP.
import { availableParallelism } from 'node:os';
import { Command, CommanderError } from 'commander';
import { addAdminCommands } from './admin-commands.ts';
import { CliError, usageError } from './cli-error.ts';
import { type CliIo, createCommandContext, DEFAULT_URL } from './command-context.ts';
import { addOAuthCommands } from './oauth-commands.ts';

/**
 * Starts the broker's API and/or worker (src/main.ts, loaded only when asked): in this process, or,
 * with `processes` above 1, in that many processes sharing the port (see serve-processes.ts).
 */
export type StartMandate = (options: {
  api: boolean;
  worker: boolean;
  processes?: number;
}) => Promise<unknown>;

/** `serve`'s process count: the option, else MANDATE_PROCESSES, else one per core. */
export function processCount(option: string | undefined, env: CliIo['env']): number {
  const raw = option ?? env.MANDATE_PROCESSES;
  if (raw === undefined || raw === '') return availableParallelism();
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw usageError(`--processes must be an integer from 1 to 256, got ${raw.slice(0, 20)}`);
  return n;
}

const PROCESSES = [
  {
    name: 'start',
    api: true,
    worker: true,
    description: 'run the HTTP API and the re-evaluation worker',
  },
  { name: 'serve', api: true, worker: false, description: 'run the HTTP API only' },
  { name: 'worker', api: false, worker: true, description: 'run the re-evaluation worker only' },
] as const;

/**
 * Runs one command line and resolves with its exit code: 0 done, 1 refused by the broker,
 * 2 usage or configuration error. Process commands resolve once the broker is up.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo,
  start: () => Promise<StartMandate>,
): Promise<number> {
  const program = new Command('mandate')
    .description('Mandate: just-in-time, task-bound credentials for AI agents')
    .option('--url <url>', `broker URL (env MANDATE_URL, default ${DEFAULT_URL})`)
    .option('--token <token>', 'admin bearer token (env MANDATE_ADMIN_TOKEN)')
    .option('--json', 'print machine-readable JSON')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.out(s.replace(/\n$/, '')),
      writeErr: (s) => io.err(s.replace(/\n$/, '')),
    })
    .showHelpAfterError('(run with --help for usage)');

  for (const p of PROCESSES) {
    const command = program.command(p.name).description(p.description);
    if (p.name === 'serve')
      command.option(
        '--processes <n>',
        'HTTP processes on the one port (env MANDATE_PROCESSES; default: one per core; 1: this process only)',
      );
    command.action(async (opts: { processes?: string }) => {
      const processes = p.name === 'serve' ? processCount(opts.processes, io.env) : 1;
      const startMandate = await start();
      await startMandate({ api: p.api, worker: p.worker, processes });
    });
  }
  const ctx = createCommandContext(io);
  addAdminCommands(program, ctx);
  addOAuthCommands(program, ctx);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    return exitCodeOf(err, io);
  }
}

function exitCodeOf(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // Commander has already printed its message; --help and --version are not failures.
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
  }
  if (err instanceof CliError) {
    io.err(`mandate: ${err.message}`);
    return err.exitCode;
  }
  // Configuration errors from the broker's start-up carry their own exit code (2).
  const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
  if (typeof exitCode === 'number' && Number.isInteger(exitCode)) {
    io.err(err instanceof Error ? err.message : String(err));
    return exitCode;
  }
  io.err(`mandate: ${err instanceof Error ? err.message : String(err)}`);
  return 1;
}
