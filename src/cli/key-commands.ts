// `mandate keys`: rotate the signing key.
import type { Command } from 'commander';
import { asRecord } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';

type Row = Record<string, unknown>;

/** Adds `keys rotate` to `program`. */
export function addKeyCommands(program: Command, ctx: CommandContext): void {
  const keys = program.command('keys').description('manage signing keys');

  keys
    .command('rotate')
    .description(
      'start signing with a new key; the old one stays published until its tokens expire',
    )
    .action(async (_opts: Row, cmd: Command) => {
      const body = asRecord(await ctx.admin(cmd, 'POST', '/admin/keys/rotate'));
      ctx.print(cmd, body, () => `signing with key ${String(body.kid ?? '?')}`);
    });
}
