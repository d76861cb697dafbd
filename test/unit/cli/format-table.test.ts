// The CLI's table and field rendering.
import { describe, expect, it } from 'vitest';
import { formatCell, formatFields, formatTable } from '../../../src/cli/format-table.ts';

describe('formatTable', () => {
  const columns = [
    { header: 'client_id', value: (r: Record<string, unknown>) => r.id },
    { header: 'groups', value: (r: Record<string, unknown>) => r.groups },
    { header: 'kind', value: (r: Record<string, unknown>) => r.kind },
  ];

  it('aligns columns under upper-case headers without trailing blanks', () => {
    const out = formatTable(
      [
        { id: 'a', groups: ['x', 'y'], kind: 'agent' },
        { id: 'crm-api-long', groups: [], kind: 'resource' },
      ],
      columns,
    );
    expect(out.split('\n')).toEqual([
      'CLIENT_ID     GROUPS  KIND',
      'a             x,y     agent',
      'crm-api-long  -       resource',
    ]);
  });

  it('says (none) for no rows', () => {
    expect(formatTable([], columns)).toBe('(none)');
  });
});

describe('formatCell', () => {
  it('renders nothing as -, objects as JSON, and keeps one line of bounded width', () => {
    expect(formatCell(undefined)).toBe('-');
    expect(formatCell(null)).toBe('-');
    expect(formatCell({ a: 1 })).toBe('{"a":1}');
    expect(formatCell('two\nlines')).toBe('two lines');
    const long = formatCell('x'.repeat(200));
    expect(long).toHaveLength(80);
    expect(long.endsWith('…')).toBe(true);
  });
});

describe('formatFields', () => {
  it('aligns keys and prints nested values as JSON', () => {
    expect(
      formatFields({ client_id: 'a', attributes: { team: 'crm' }, skipped: undefined }).split('\n'),
    ).toEqual(['client_id   a', 'attributes  {"team":"crm"}']);
  });
});
