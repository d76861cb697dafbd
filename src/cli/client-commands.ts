// `mandate clients`: register, list, show, disable, enable, set actions of and delete agents and resource servers.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { hashSecret } from '../services/authenticate-client.ts';
import { asRecord, listOf } from './answer-shape.ts';
import { usageError } from './cli-error.ts';
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

/** Adds `clients add|ls|show|disable|enable|set-actions|rm` to `program`. */
export function addClientCommands(program: Command, ctx: CommandContext): void {
  const clients = program
    .command('clients')
    .description('register and manage agents and resource servers');

  clients
    .command('add')
    .description(
      'register a client; prints its client_secret once (none for private_key_jwt: it has keys instead)',
    )
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
      '--actions <a,b>',
      "actions a resource client serves, e.g. an MCP server's tool names (comma-separated; each joins the Cedar schema)",
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
        'none',
      ]),
    )
    .option(
      '--redirect-uris <u1,u2>',
      'authorization code grant: where /oauth/authorize may send the person back (comma-separated; a public client, --auth-method none, needs one)',
      commaList,
    )
    .option(
      '--jwks-file <file>',
      "private_key_jwt: the client's key as a JWK or JWKS file (private members are dropped: only public keys are sent)",
    )
    .option(
      '--jwks-uri <url>',
      'private_key_jwt: where the client publishes its public keys (https)',
    )
    .option('--max-token-ttl <sec>', 'longest access token lifetime', positiveInt)
    .option('--max-grant-ttl <sec>', 'longest grant lifetime', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const jwks =
        typeof opts.jwksFile === 'string'
          ? publicJwks(await ctx.io.readFile(opts.jwksFile))
          : undefined;
      const keyed = jwks !== undefined || opts.jwksUri !== undefined;
      if (keyed && opts.authMethod !== undefined && opts.authMethod !== 'private_key_jwt')
        throw usageError('--jwks-file and --jwks-uri go with --auth-method private_key_jwt');
      const body = compact({
        client_id: opts.clientId,
        name: opts.name,
        kind: opts.kind,
        groups: opts.groups,
        resources: opts.resources,
        actions: opts.actions,
        attributes: Object.keys(opts.attr as Row).length > 0 ? opts.attr : undefined,
        token_endpoint_auth_method: keyed ? 'private_key_jwt' : opts.authMethod,
        jwks,
        jwks_uri: opts.jwksUri,
        max_token_ttl: opts.maxTokenTtl,
        max_grant_ttl: opts.maxGrantTtl,
        redirect_uris: opts.redirectUris,
      });
      const created = asRecord(await ctx.admin(cmd, 'POST', '/admin/clients', body));
      ctx.print(cmd, created, () => {
        const { client_secret: secret, client, ...rest } = created;
        const shown = formatFields(
          typeof client === 'object' && client !== null ? (client as Row) : rest,
        );
        if (typeof secret !== 'string' && opts.authMethod === 'none')
          return `${shown}\n\n(no secret: a public client; it signs people in with the authorization code grant and PKCE)`;
        if (typeof secret !== 'string')
          return `${shown}\n\n(no secret: the client signs each request with its private key)`;
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
    .command('set-actions <client_id> <actions>')
    .description(
      "replace the actions a resource client serves (comma-separated tool names; '' for none)",
    )
    .action(async (id: string, actions: string, _opts: Row, cmd: Command) => {
      const list = actions
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      const body = await ctx.admin(cmd, 'PATCH', `/admin/clients/${enc(id)}`, { actions: list });
      ctx.print(
        cmd,
        body,
        () => `client ${id} serves ${list.length ? list.join(', ') : 'no registered action'}`,
      );
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

/** Members only a private key holds: dropped, so a private JWK file registers its public half. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** A JWKS of public keys from a file holding a JWK or a JWKS (private or public). */
function publicJwks(text: string): { keys: Row[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw usageError('--jwks-file: not JSON (want a JWK or a JWKS)');
  }
  const record = asRecord(parsed);
  const keys = Array.isArray(record.keys) ? record.keys.map(asRecord) : [record];
  if (keys.length === 0 || keys.some((k) => typeof k.kty !== 'string'))
    throw usageError('--jwks-file: want a JWK or a JWKS (each key with kty)');
  return {
    keys: keys.map((k) =>
      Object.fromEntries(Object.entries(k).filter(([m]) => !PRIVATE_MEMBERS.includes(m))),
    ),
  };
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
