// The CLI's admin commands: clients, grants, revoke, approvals, decisions, audit, policy, keys.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { hashSecret } from '../services/authenticate-client.ts';
import { CliError, usageError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatFields, formatTable } from './format-table.ts';

type Row = Record<string, unknown>;

/** Adds every admin API command to `program`. */
export function addAdminCommands(program: Command, ctx: CommandContext): void {
  addClientCommands(program, ctx);
  addGrantCommands(program, ctx);
  addRevokeCommand(program, ctx);
  addApprovalCommands(program, ctx);
  addDecisionCommands(program, ctx);
  addAuditCommands(program, ctx);
  addPolicyCommands(program, ctx);
  addKeyCommands(program, ctx);
}

const CLIENT_COLUMNS: Column<Row>[] = [
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'name', value: (r) => r.name },
  { header: 'kind', value: (r) => r.kind },
  { header: 'groups', value: (r) => r.groups },
  { header: 'resources', value: (r) => r.resources },
  { header: 'disabled', value: (r) => (r.disabled === true ? 'yes' : 'no') },
];

function addClientCommands(program: Command, ctx: CommandContext): void {
  const clients = program
    .command('clients')
    .description('register and manage agents and resource servers');

  clients
    .command('add')
    .description('register a client; prints its client_secret once')
    .requiredOption('--name <name>', 'display name')
    .addOption(
      new Option('--kind <kind>', 'what the client is')
        .choices(['agent', 'resource'])
        .makeOptionMandatory(),
    )
    .option('--client-id <id>', 'choose the client_id (default: generated)')
    .option('--groups <a,b>', 'groups the agent belongs to (comma-separated)', commaList)
    .option(
      '--resources <u1,u2>',
      'resource URIs a resource client serves (comma-separated)',
      commaList,
    )
    .option(
      '--attr <k=v>',
      'attribute for policy (repeatable; v is JSON when it parses, else a string)',
      collectAttribute,
      {},
    )
    .addOption(
      new Option('--auth-method <method>', 'token endpoint auth method').choices([
        'client_secret_basic',
        'client_secret_post',
        'private_key_jwt',
      ]),
    )
    .option('--max-token-ttl <sec>', 'longest access token lifetime', positiveInt)
    .option('--max-grant-ttl <sec>', 'longest grant lifetime', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const body = compact({
        client_id: opts.clientId,
        name: opts.name,
        kind: opts.kind,
        groups: opts.groups,
        resources: opts.resources,
        attributes: Object.keys(opts.attr as Row).length > 0 ? opts.attr : undefined,
        token_endpoint_auth_method: opts.authMethod,
        max_token_ttl: opts.maxTokenTtl,
        max_grant_ttl: opts.maxGrantTtl,
      });
      const created = asRecord(await ctx.admin(cmd, 'POST', '/admin/clients', body));
      ctx.print(cmd, created, () => {
        const { client_secret: secret, client, ...rest } = created;
        const shown = formatFields(
          typeof client === 'object' && client !== null ? (client as Row) : rest,
        );
        if (typeof secret !== 'string') return shown;
        return [
          shown,
          '',
          `client_secret       ${secret}`,
          `client_secret_hash  ${hashSecret(secret)}`,
          '(the secret is shown once: store it now; the hash is what config/mandate.yaml may hold)',
        ].join('\n');
      });
    });

  clients
    .command('ls')
    .description('list clients')
    .action(async (_opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'GET', '/admin/clients');
      ctx.print(cmd, body, () => formatTable(listOf(body, 'clients'), CLIENT_COLUMNS));
    });

  clients
    .command('show <client_id>')
    .description('show one client')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'GET', `/admin/clients/${enc(id)}`);
      ctx.print(cmd, body, () => formatFields(asRecord(body)));
    });

  clients
    .command('disable <client_id>')
    .description('disable a client; every live grant of a disabled agent is revoked')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'PATCH', `/admin/clients/${enc(id)}`, { disabled: true });
      ctx.print(cmd, body, () => `client ${id} disabled`);
    });

  clients
    .command('enable <client_id>')
    .description('enable a disabled client')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'PATCH', `/admin/clients/${enc(id)}`, { disabled: false });
      ctx.print(cmd, body, () => `client ${id} enabled`);
    });

  clients
    .command('rm <client_id>')
    .description('delete a client')
    .action(async (id: string, _opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'DELETE', `/admin/clients/${enc(id)}`);
      ctx.print(cmd, body, () => {
        const revoked = asRecord(asRecord(body).revoked);
        return `client ${id} deleted; revoked ${Number(revoked.grants ?? 0)} grant(s)`;
      });
    });
}

const GRANT_COLUMNS: Column<Row>[] = [
  { header: 'grant_id', value: (r) => r.id ?? r.grant_id },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'task_id', value: (r) => r.task_id },
  { header: 'status', value: (r) => r.status },
  { header: 'expires', value: (r) => isoTime(r.expires_at) },
  { header: 'granted', value: (r) => summarizeDetails(r.granted ?? r.authorization_details) },
];

const DECISION_COLUMNS: Column<Row>[] = [
  { header: 'time', value: (r) => isoTimeMs(r.at_ms) ?? isoTime(r.at) },
  { header: 'kind', value: (r) => r.kind },
  { header: 'outcome', value: (r) => r.outcome },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'grant_id', value: (r) => r.grant_id },
  { header: 'reasons', value: (r) => r.reasons },
];

function addGrantCommands(program: Command, ctx: CommandContext): void {
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

function addRevokeCommand(program: Command, ctx: CommandContext): void {
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

const APPROVAL_COLUMNS: Column<Row>[] = [
  { header: 'id', value: (r) => r.id ?? r.approval_id ?? r.auth_req_id },
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'task_id', value: (r) => r.task_id },
  { header: 'status', value: (r) => r.status },
  { header: 'expires', value: (r) => isoTime(r.expires_at) },
  { header: 'requested', value: (r) => summarizeDetails(r.requested ?? r.authorization_details) },
  { header: 'reasons', value: (r) => r.reasons },
];

function addApprovalCommands(program: Command, ctx: CommandContext): void {
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

function addDecisionCommands(program: Command, ctx: CommandContext): void {
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

function addAuditCommands(program: Command, ctx: CommandContext): void {
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

function addPolicyCommands(program: Command, ctx: CommandContext): void {
  const policy = program
    .command('policy')
    .description('read, replace and simulate the Cedar policy set');

  policy
    .command('show')
    .description('print the policy set in force')
    .action(async (_opts: Row, cmd: Command) => {
      const body = await ctx.admin(cmd, 'GET', '/admin/policies');
      ctx.print(cmd, body, () => {
        const b = asRecord(body);
        if (typeof b.policies !== 'string') return formatFields(b);
        // A Cedar comment, so the output can be pushed back unchanged.
        return b.version !== undefined
          ? `// policy version ${String(b.version)}\n${b.policies}`
          : b.policies;
      });
    });

  policy
    .command('push <file>')
    .description('replace the policy set with the Cedar text in <file>')
    .action(async (file: string, _opts: Row, cmd: Command) => {
      const policies = await readPolicyFile(ctx, file);
      const body = await ctx.admin(cmd, 'PUT', '/admin/policies', { policies });
      ctx.print(cmd, body, () => {
        const b = asRecord(body);
        return b.version !== undefined
          ? `policy version ${String(b.version)} in force`
          : formatFields(b);
      });
    });

  policy
    .command('simulate <file>')
    .description('show what the policy set in <file> would narrow or revoke, changing nothing')
    .action(async (file: string, _opts: Row, cmd: Command) => {
      const policies = await readPolicyFile(ctx, file);
      const body = await ctx.admin(cmd, 'POST', '/admin/policies/simulate', { policies });
      ctx.print(cmd, body, () => formatSections(asRecord(body)));
    });
}

function addKeyCommands(program: Command, ctx: CommandContext): void {
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

async function readPolicyFile(ctx: CommandContext, file: string): Promise<string> {
  try {
    return await ctx.io.readFile(file);
  } catch (err) {
    throw usageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** Scalars as fields, then each list of objects as a titled table (a simulation report). */
function formatSections(body: Row): string {
  const scalars: Row = {};
  const parts: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    if (Array.isArray(value) && value.every((v) => typeof v === 'object' && v !== null)) {
      const rows = value as Row[];
      const headers = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      parts.push(
        `${key}\n${formatTable(
          rows,
          headers.map((h) => ({ header: h, value: (r: Row) => r[h] })),
        )}`,
      );
    } else {
      scalars[key] = value;
    }
  }
  if (Object.keys(scalars).length > 0) parts.unshift(formatFields(scalars));
  return parts.join('\n\n') || '(nothing would change)';
}

/** The rows of a list answer, whether the broker sent a bare array or `{ <key>: [...] }`. */
export function listOf(body: unknown, key: string): Row[] {
  if (Array.isArray(body)) return body as Row[];
  const b = asRecord(body);
  const list = b[key] ?? b.items ?? b.data;
  if (Array.isArray(list)) return list as Row[];
  throw new CliError(1, `unexpected answer from Mandate: no ${key} list`);
}

/** `read,write@https://crm.example.com` for each granted entry, `;`-separated. */
export function summarizeDetails(details: unknown): string {
  if (!Array.isArray(details)) return '';
  return details
    .map((d) => {
      const e = asRecord(d);
      const list = (v: unknown) => (Array.isArray(v) ? v.join(',') : '');
      return `${list(e.actions)}@${list(e.locations)}`;
    })
    .join('; ');
}

/** `value` when it is a plain object, else an empty one (answers of unexpected shape). */
export function asRecord(value: unknown): Row {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Row) : {};
}

/** `obj` without its undefined members (unset options). */
export function compact(obj: Row): Row {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function queryString(params: Row): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

function enc(id: string): string {
  return encodeURIComponent(id);
}

function isoTime(sec: unknown): string | undefined {
  return typeof sec === 'number'
    ? new Date(sec * 1000).toISOString().replace('.000Z', 'Z')
    : undefined;
}

function isoTimeMs(ms: unknown): string | undefined {
  return typeof ms === 'number' ? new Date(ms).toISOString() : undefined;
}

/** Parses `a,b,c` (commander option argument). */
export function commaList(value: string, previous?: string[]): string[] {
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return [...(previous ?? []), ...items];
}

/** Parses a positive integer option argument. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('not a positive integer');
  return n;
}

function collectAttribute(value: string, previous: Row): Row {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('wants key=value');
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Not JSON: a plain string attribute.
  }
  return { ...previous, [key]: parsed };
}
