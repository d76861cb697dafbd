// `mandate approvals`: list approval requests and approve or deny them.
import type { Command } from 'commander';
import { asRecord, listOf, summarizeDetails } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatFields, formatTable, isoTime } from './format-table.ts';
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

/** One approval in full: its fields, then each requested entry and each pair that needs a human. */
function formatApproval(body: Row): string {
  const { intent, requested, pairs, ...rest } = body;
  const fields = formatFields({
    ...rest,
    created_at: isoTime(rest.created_at),
    expires_at: isoTime(rest.expires_at),
    decided_at: isoTime(rest.decided_at),
  });
  const entries = Array.isArray(requested ?? intent) ? ((requested ?? intent) as unknown[]) : [];
  const lines = entries.map((e) => {
    const d = asRecord(e);
    return `  task ${String(d.task_id ?? '-')}${d.purpose ? ` (${String(d.purpose)})` : ''}: ${summarizeDetails([d])}${Array.isArray(d.datatypes) ? ` datatypes ${d.datatypes.join(',')}` : ''}${Array.isArray(d.steps) ? ` steps ${d.steps.join(',')}` : ''}${typeof d.ttl === 'number' ? ` ttl ${d.ttl}s` : ''}`;
  });
  const needs = (Array.isArray(pairs) ? pairs : []).map((p) => {
    const r = asRecord(p);
    return `  ${String(r.action)} on ${String(r.location)}: ${Array.isArray(r.reasons) ? r.reasons.join(', ') : '-'}`;
  });
  return `${fields}\nrequested:\n${lines.join('\n') || '  -'}\nneeds approval:\n${needs.join('\n') || '  -'}`;
}

/** Adds `approvals ls|show|approve|deny` to `program`. */
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

  approvals
    .command('show <id>')
    .description('show one approval request with its full intent')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = asRecord(await ctx.admin(cmd, 'GET', `/admin/approvals/${enc(id)}`));
      ctx.print(cmd, body, () => formatApproval(body));
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
