// Plain-text rendering of admin API answers: aligned tables, key/value listings and times.

/** One column of a table: its header and how to read a cell from a row. */
export interface Column<Row> {
  readonly header: string;
  readonly value: (row: Row) => unknown;
}

const MAX_CELL = 80;

/** One cell as text: `-` for nothing, lists comma-joined, objects as compact JSON, one line. */
export function formatCell(value: unknown): string {
  let text: string;
  if (value === undefined || value === null || value === '') text = '-';
  else if (Array.isArray(value))
    text =
      value.length === 0
        ? '-'
        : value
            .map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)))
            .join(',');
  else if (typeof value === 'object') text = JSON.stringify(value);
  else text = String(value);
  text = text.replace(/\s*[\r\n]+\s*/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

/**
 * Rows as an aligned table with a header line; `(none)` when there are no rows. Only the last
 * column is left unpadded, so lines carry no trailing blanks.
 */
export function formatTable<Row>(rows: readonly Row[], columns: readonly Column<Row>[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => formatCell(c.value(row))));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] ?? '').length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join('\n');
}

/** An object as `key  value` lines, keys aligned; nested values as compact JSON. */
export function formatFields(record: Readonly<Record<string, unknown>>): string {
  const entries = Object.entries(record).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '(empty)';
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries
    .map(([k, v]) => {
      // Fields are shown whole (tokens, secrets to copy); only table cells are shortened.
      const text =
        v === null || v === '' ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return `${k.padEnd(width)}  ${text}`;
    })
    .join('\n');
}

/** Epoch seconds as an ISO 8601 time (whole seconds), undefined when not a number. */
export function isoTime(sec: unknown): string | undefined {
  return typeof sec === 'number'
    ? new Date(sec * 1000).toISOString().replace('.000Z', 'Z')
    : undefined;
}

/** Epoch milliseconds as an ISO 8601 time, undefined when not a number. */
export function isoTimeMs(ms: unknown): string | undefined {
  return typeof ms === 'number' ? new Date(ms).toISOString() : undefined;
}
