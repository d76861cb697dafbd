// `mandate audit`: verify the decision log's hash chain, export its records.
import { type Command, InvalidArgumentError, Option } from 'commander';
import { asRecord } from './answer-shape.ts';
import { CliError } from './cli-error.ts';
import type { CommandContext } from './command-context.ts';
import { formatFields } from './format-table.ts';
import { enc, positiveInt } from './option-values.ts';

type Row = Record<string, unknown>;

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `--since`: an ISO 8601 time, epoch milliseconds, or a duration back from now (`30m`, `24h`, `7d`). */
export function sinceMs(value: string, nowMs = Date.now()): number {
  const ago = /^(\d+)([smhd])$/.exec(value);
  if (ago) return nowMs - Number(ago[1]) * (UNIT_MS[ago[2] as string] ?? 0);
  if (/^\d{10,}$/.test(value)) return Number(value);
  const parsed = Date.parse(value);
  if (Number.isNaN(parsed))
    throw new InvalidArgumentError('an ISO 8601 time, epoch milliseconds, or 30m / 24h / 7d');
  return parsed;
}

/** Records per page asked of the broker. */
const EXPORT_PAGE = 1000;

/** Adds `audit verify|export` to `program`; exit 1 when the chain is broken. */
export function addAuditCommands(program: Command, ctx: CommandContext): void {
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

  audit
    .command('export')
    .description(
      'print decision records kept in Redis, oldest first, one JSON line each (exactly as stored, chain fields included)',
    )
    .requiredOption('--since <time>', 'ISO 8601 time, epoch ms, or 30m / 24h / 7d back', (v) =>
      sinceMs(v),
    )
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl']).default('jsonl'))
    .option('--limit <n>', 'print at most this many records', positiveInt)
    .action(async (opts: Row, cmd: Command) => {
      const limit = (opts.limit as number | undefined) ?? Number.POSITIVE_INFINITY;
      let printed = 0;
      let from = `since=${opts.since as number}`;
      while (printed < limit) {
        const size = Math.min(EXPORT_PAGE, limit - printed);
        const body = asRecord(
          await ctx.admin(cmd, 'GET', `/admin/audit/records?${from}&limit=${size}`),
        );
        const records = Array.isArray(body.records) ? body.records : [];
        for (const r of records) ctx.io.out(JSON.stringify(r));
        printed += records.length;
        if (typeof body.next !== 'string' || records.length === 0) break;
        from = `after=${enc(body.next)}`;
      }
    });
}
