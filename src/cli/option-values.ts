// Command-line values into request parts: option argument parsers, bodies, query strings, path segments.
import { InvalidArgumentError } from 'commander';

type Row = Record<string, unknown>;

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

/** `obj` without its undefined members (unset options). */
export function compact(obj: Row): Row {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

/** `?k=v&...` of the set members of `params`, or '' when none is set. */
export function queryString(params: Row): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** One path segment, percent-encoded. */
export function enc(id: string): string {
  return encodeURIComponent(id);
}
