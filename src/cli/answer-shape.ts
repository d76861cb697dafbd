// Reading the broker's JSON answers whatever their exact shape: objects, lists, granted entries.
import { CliError } from './cli-error.ts';

type Row = Record<string, unknown>;

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
