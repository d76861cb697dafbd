// `mandate clients`: register, list, show, disable, enable and delete agents and resource servers.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { hashSecret } from '../services/authenticate-client.ts';
import { asRecord, listOf } from './answer-shape.ts';
import type { CommandContext } from './command-context.ts';
import { type Column, formatFields, formatTable } from './format-table.ts';
import { commaList, compact, enc, positiveInt } from './option-values.ts';

type Row = Record<string, unknown>;

const CLIENT_COLUMNS: Column<Row>[] = [
  { header: 'client_id', value: (r) => r.client_id },
  { header: 'name', value: (r) => r.name },
  { header: 'kind', value: (r) => r.kind },
  { header: 'groups', value: (r) => r.groups },
  { header: 'resources', value: (r) => r.resources },
  { header: 'disabled', value: (r) => (r.disabled === true ? 'yes' : 'no') },
];

/** Adds `clients add|ls|show|disable|enable|rm` to `program`. */
export function addClientCommands(program: Command, ctx: CommandContext): void {
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
