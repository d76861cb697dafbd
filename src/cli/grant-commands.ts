// `mandate grants`: list grants and show one with its decision history.
import { type Command, Option } from 'commander';
import { asRecord, listOf, summarizeDetails } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { DECISION_COLUMNS } from './decision-commands.ts';
import { type Column, formatFields, formatTable, isoTime } from './format-table.ts';
import { enc, queryString } from './option-values.ts';

type Row = Record<string, unknown>;

const GRANT_COLUMNS: Column<Row>[] = [
  { header: 'grant_id', value: (r) => r.id ?? r.grant_id },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'task_id', value: (r) => r.task_id },
  { header: 'status', value: (r) => r.status },
  { header: 'expires', value: (r) => isoTime(r.expires_at) },
  { header: 'granted', value: (r) => summarizeDetails(r.granted ?? r.authorization_details) },
];

/** Adds `grants ls|show` to `program`. */
export function addGrantCommands(program: Command, ctx: CommandContext): void {
  const grants = program.command('grants').description('inspect grants');

  grants
    .command('ls')
    .description('list grants')
    .option('--client <client_id>', 'only grants of this client')
    .option('--task <task_id>', 'only grants of this task')
    .addOption(
      new Option('--status <status>', 'only grants in this state').choices([
        'active',
        'suspended',
        'revoked',
      ]),
    )
    .action(async (opts: Row, cmd: Command) => {
      const query = queryString({
        client_id: opts.client,
        task_id: opts.task,
        status: opts.status,
      });
      const body = await ctx.admin(cmd, 'GET', `/admin/grants${query}`);
      ctx.print(cmd, body, () => formatTable(listOf(body, 'grants'), GRANT_COLUMNS));
    });

  grants
    .command('show <grant_id>')
    .description('show one grant with its decision history')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = asRecord(await ctx.admin(cmd, 'GET', `/admin/grants/${enc(id)}`));
      ctx.print(cmd, body, () => {
        const { history, decisions, ...grant } = body;
        const records = history ?? decisions;
        const head = formatFields(grant);
        return Array.isArray(records)
          ? `${head}\n\nhistory\n${formatTable(records as Row[], DECISION_COLUMNS)}`
          : head;
      });
    });
}
