// `mandate policy`: show, push and simulate the Cedar policy set.
import type { Command } from 'commander';
import { asRecord } from './answer-shape.ts';
import { usageError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';
import { formatFields, formatTable } from './format-table.ts';

type Row = Record<string, unknown>;

/** Adds `policy show|push|simulate` to `program`. */
export function addPolicyCommands(program: Command, ctx: CommandContext): void {
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
