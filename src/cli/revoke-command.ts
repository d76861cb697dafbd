// `mandate revoke`: revoke by token id, grant, task or client.
import type { Command } from 'commander';
import { asRecord } from './answer-shape.ts';
import { usageError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';
import { compact } from './option-values.ts';

type Row = Record<string, unknown>;

/** Adds `revoke` to `program`. */
export function addRevokeCommand(program: Command, ctx: CommandContext): void {
  program
    .command('revoke')
    .description('revoke by token id, grant, task or client (exactly one)')
    .option('--jti <jti>', 'one access token')
    .option('--grant <grant_id>', 'one grant and its tokens')
    .option('--task <task_id>', 'every grant of a task')
    .option('--client <client_id>', 'every grant of a client')
    .requiredOption('--reason <text>', 'why (kept in the decision record)')
    .action(async (opts: Row, cmd: Command) => {
      const targets = compact({
        jti: opts.jti,
        grant_id: opts.grant,
        task_id: opts.task,
        client_id: opts.client,
      });
      if (Object.keys(targets).length !== 1)
        throw usageError('revoke: give exactly one of --jti, --grant, --task, --client');
      const body = asRecord(
        await ctx.admin(cmd, 'POST', '/admin/revocations', { ...targets, reason: opts.reason }),
      );
      ctx.print(cmd, body, () => {
        const revoked = asRecord(body.revoked ?? {});
        return `revoked ${Number(revoked.grants ?? 0)} grant(s), ${Number(revoked.tokens ?? 0)} token(s)`;
      });
    });
}
