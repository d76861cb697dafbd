// `mandate audit`: verify the decision log's hash chain.
import type { Command } from 'commander';
import { asRecord } from './answer-shape.ts';
import { CliError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';
import { formatFields } from './format-table.ts';

type Row = Record<string, unknown>;

/** Adds `audit verify` to `program`; exit 1 when the chain is broken. */
export function addAuditCommands(program: Command, ctx: CommandContext): void {
  const audit = program.command('audit').description('check the decision log');

  audit
    .command('verify')
    .description('verify the hash chain of the decision records; exit 1 when it is broken')
    .action(async (_opts: Row, cmd: Command) => {
      const body = asRecord(await ctx.admin(cmd, 'GET', '/admin/audit/verify'));
      if (body.ok === true) {
        ctx.print(cmd, body, () => `ok: ${Number(body.records ?? 0)} record(s), chain intact`);
        return;
      }
      ctx.print(
        cmd,
        body,
        () =>
          `BROKEN after ${Number(body.records ?? 0)} record(s)\n${formatFields(asRecord(body.broken ?? body))}`,
      );
      throw new CliError(1, 'the decision log does not verify');
    });
}
