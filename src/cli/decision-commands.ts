// `mandate decisions`: list decision records.
import type { Command } from 'commander';
import { listOf } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatTable, isoTime, isoTimeMs } from './format-table.ts';
import { positiveInt, queryString } from './option-values.ts';

type Row = Record<string, unknown>;

/** Columns of a decision record table (also a grant's history). */
export const DECISION_COLUMNS: Column<Row>[] = [
  { header: 'time', value: (r) => isoTimeMs(r.at_ms) ?? isoTime(r.at) },
  { header: 'kind', value: (r) => r.kind },
  { header: 'outcome', value: (r) => r.outcome },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'grant_id', value: (r) => r.grant_id },
  { header: 'reasons', value: (r) => r.reasons },
];

/** Adds `decisions ls` to `program`. */
export function addDecisionCommands(program: Command, ctx: CommandContext): void {
  const decisions = program.command('decisions').description('read decision records');

  decisions
    .command('ls')
    .description('list decision records')
    .option('--grant <grant_id>', 'records of one grant')
    .option('--client <client_id>', 'records of one client')
    .option('--limit <n>', 'at most this many', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const query = queryString({
        grant_id: opts.grant,
        client_id: opts.client,
        limit: opts.limit,
      });
      const body = await ctx.admin(cmd, 'GET', `/admin/decisions${query}`);
      ctx.print(cmd, body, () => formatTable(listOf(body, 'decisions'), DECISION_COLUMNS));
    });
}
