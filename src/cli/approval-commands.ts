// `mandate approvals`: list approval requests and approve or deny them.
import type { Command } from 'commander';
import { listOf, summarizeDetails } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatTable, isoTime } from './format-table.ts';
import { compact, enc, queryString } from './option-values.ts';

type Row = Record<string, unknown>;

const APPROVAL_COLUMNS: Column<Row>[] = [
  { header: 'id', value: (r) => r.id ?? r.approval_id ?? r.auth_req_id },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'task_id', value: (r) => r.task_id },
  { header: 'status', value: (r) => r.status },
  { header: 'expires', value: (r) => isoTime(r.expires_at) },
  { header: 'requested', value: (r) => summarizeDetails(r.requested ?? r.authorization_details) },
  { header: 'reasons', value: (r) => r.reasons },
];

/** Adds `approvals ls|approve|deny` to `program`. */
export function addApprovalCommands(program: Command, ctx: CommandContext): void {
  const approvals = program
    .command('approvals')
    .description('decide tasks that policy sent for approval');

  approvals
    .command('ls')
    .description('list approval requests')
    .option('--status <status>', 'which requests', 'pending')
    .action(async (opts: Row, cmd: Command) => {
      const body = await ctx.admin(
        cmd,
        'GET',
        `/admin/approvals${queryString({ status: opts.status })}`,
      );
      ctx.print(cmd, body, () => formatTable(listOf(body, 'approvals'), APPROVAL_COLUMNS));
    });

  for (const decision of ['approve', 'deny'] as const) {
    approvals
      .command(`${decision} <id>`)
      .description(`${decision} an approval request`)
      .option('--note <text>', 'note kept with the decision')
      .action(async (id: string, opts: Row, cmd: Command) => {
        const body = await ctx.admin(
          cmd,
          'POST',
          `/admin/approvals/${enc(id)}`,
          compact({ decision, note: opts.note }),
        );
        ctx.print(
          cmd,
          body,
          () => `approval ${id} ${decision === 'approve' ? 'approved' : 'denied'}`,
        );
      });
  }
}
