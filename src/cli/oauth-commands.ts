// The CLI's OAuth commands: an agent's `token get` and a resource's `introspect`.
import type { Command } from 'commander';
import { asRecord, summarizeDetails } from './answer-shape.ts';
import { usageError } from './cli-error.ts';
import type { ClientCredentials, CommandContext } from './command-context.ts';
import { formatFields } from './format-table.ts';
import { commaList, compact, positiveInt } from './option-values.ts';

type Row = Record<string, unknown>;

/** Adds `token get` and `introspect` to `program`. */
export function addOAuthCommands(program: Command, ctx: CommandContext): void {
  const token = program.command('token').description('act as an agent');

  token
    .command('get')
    .description('get a task-bound token (client_credentials with authorization_details)')
    .option('--client-id <id>', 'agent client_id (or MANDATE_CLIENT_ID)')
    .option(
      '--client-secret <secret>',
      'agent client_secret (or MANDATE_CLIENT_SECRET; keeps it out of ps)',
    )
    .option(
      '--private-key-file <file>',
      'private_key_jwt: the private key (JWK or PKCS#8 PEM) to sign a client assertion with (or MANDATE_CLIENT_KEY_FILE)',
    )
    .requiredOption('--task <task_id>', 'the task the token is for')
    .requiredOption('--action <a,b>', 'actions (comma-separated, repeatable)', commaList)
    .requiredOption('--location <uri>', 'resource URI (comma-separated, repeatable)', commaList)
    .option('--purpose <text>', 'why the task needs access')
    .option('--datatype <t>', 'data types touched (comma-separated, repeatable)', commaList)
    .option('--step <s>', 'declared step order (comma-separated, repeatable)', commaList)
    .option('--ttl <sec>', 'grant lifetime asked for', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const entry = compact({
        type: 'agent_task',
        task_id: opts.task,
        purpose: opts.purpose,
        actions: opts.action,
        locations: opts.location,
        datatypes: opts.datatype,
        steps: opts.step,
        ttl: opts.ttl,
      });
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([entry]),
      });
      const body = asRecord(await ctx.oauth(cmd, '/oauth/token', credentials(ctx, opts), form));
      ctx.print(cmd, body, () =>
        formatFields({
          grant_id: body.grant_id,
          token_type: body.token_type,
          expires_in: body.expires_in,
          granted: summarizeDetails(body.authorization_details),
          access_token: body.access_token,
          refresh_token: body.refresh_token,
        }),
      );
    });

  program
    .command('introspect <token>')
    .description('introspect a token as a resource server (RFC 7662)')
    .option('--client-id <id>', 'resource client_id (or MANDATE_CLIENT_ID)')
    .option('--client-secret <secret>', 'resource client_secret (or MANDATE_CLIENT_SECRET)')
    .option(
      '--private-key-file <file>',
      'private_key_jwt: the private key (JWK or PKCS#8 PEM) (or MANDATE_CLIENT_KEY_FILE)',
    )
    .action(async (tokenValue: string, opts: Row, cmd: Command) => {
      if (tokenValue.trim() === '') throw usageError('introspect: the token is empty');
      const form = new URLSearchParams({ token: tokenValue });
      const body = asRecord(
        await ctx.oauth(cmd, '/oauth/introspect', credentials(ctx, opts), form),
      );
      ctx.print(cmd, body, () => formatFields(body));
    });
}

function credentials(ctx: CommandContext, opts: Row): ClientCredentials {
  const clientId = (opts.clientId as string | undefined) ?? ctx.io.env.MANDATE_CLIENT_ID;
  const clientSecret =
    (opts.clientSecret as string | undefined) ?? ctx.io.env.MANDATE_CLIENT_SECRET;
  const privateKeyFile =
    (opts.privateKeyFile as string | undefined) ?? ctx.io.env.MANDATE_CLIENT_KEY_FILE;
  if (clientId && privateKeyFile && !opts.clientSecret) return { clientId, privateKeyFile };
  if (!clientId || !clientSecret) {
    throw usageError(
      'client credentials missing: pass --client-id with --client-secret or --private-key-file (or set MANDATE_CLIENT_ID with MANDATE_CLIENT_SECRET or MANDATE_CLIENT_KEY_FILE)',
    );
  }
  return { clientId, clientSecret };
}
