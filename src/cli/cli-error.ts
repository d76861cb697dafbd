// The CLI's failures with the exit code each one ends the process with.

/** 1: the broker answered and refused; 2: the command line or configuration is wrong. */
export type ExitCode = 1 | 2;

/** A failure the CLI reports on stderr and turns into its exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCode;

  constructor(exitCode: ExitCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A usage or configuration error (exit code 2). */
export function usageError(message: string): CliError {
  return new CliError(2, message);
}
