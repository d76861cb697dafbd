// `mandate tokens`: operator tokens of the admin API: create (printed once), list, revoke.
import { type Command, InvalidArgumentError } from 'commander';
import { asRecord, listOf } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatFields, formatTable, isoTime } from './format-table.ts';
import { commaList, compact, enc, positiveInt } from './option-values.ts';

type Row = Record<string, unknown>;

const ROLES = ['admin', 'approver', 'auditor', 'viewer'];

const TOKEN_COLUMNS: Column<Row>[] = [
  { header: 'id', value: (r) => r.id },
  { header: 'name', value: (r) => r.name },
  { header: 'roles', value: (r) => r.roles },
  { header: 'created', value: (r) => isoTime(r.created_at) },
  { header: 'expires', value: (r) => (r.expires_at === null ? 'never' : isoTime(r.expires_at)) },
  {
    header: 'created_by',
    value: (r) => (r.configured === true ? 'MANDATE_ADMIN_TOKEN' : r.created_by),
  },
];

/** Parses `--roles a,b` and checks each is a role. */
function roleList(value: string, previous?: string[]): string[] {
  const roles = commaList(value, previous);
  const unknown = roles.filter((r) => !ROLES.includes(r));
  if (unknown.length)
    throw new InvalidArgumentError(
      `unknown role ${unknown.join(', ')} (roles: ${ROLES.join(', ')})`,
    );
  return roles;
}

/** Adds `tokens create|ls|revoke` to `program`. */
export function addTokenCommands(program: Command, ctx: CommandContext): void {
  const tokens = program
    .command('tokens')
    .description('operator tokens of the admin API (roles: admin, approver, auditor, viewer)');

  tokens
    .command('create')
    .description('create an operator token; prints the token once')
    .requiredOption('--name <name>', 'who or what uses it')
    .requiredOption('--roles <a,b>', `its roles (comma-separated: ${ROLES.join(', ')})`, roleList)
    .option('--ttl <sec>', 'lifetime in seconds (default: no expiry)', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const body = asRecord(
        await ctx.admin(
          cmd,
          'POST',
          '/admin/tokens',
          compact({ name: opts.name, roles: opts.roles, ttl: opts.ttl }),
        ),
      );
      ctx.print(
        cmd,
        body,
        () =>
          `${formatFields({ ...body, expires_at: body.expires_at === null ? 'never' : isoTime(body.expires_at) })}\n(the token is shown once; only its hash is kept)`,
      );
    });

  tokens
    .command('ls')
    .description('list operator tokens (never the tokens themselves)')
    .action(async (_opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'GET', '/admin/tokens');
      ctx.print(cmd, body, () => formatTable(listOf(body, 'tokens'), TOKEN_COLUMNS));
    });

  tokens
    .command('revoke <id>')
    .description('revoke an operator token at once, on every Mandate process')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'DELETE', `/admin/tokens/${enc(id)}`);
      ctx.print(cmd, body, () => `operator token ${id} revoked`);
    });
}
