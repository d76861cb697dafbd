// `mandate serve --processes`: the option, then MANDATE_PROCESSES, then one per core; a bad value is a usage error.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { processCount } from '../../../src/cli/run-cli.ts';

describe('processCount', () => {
  it('takes the option over the environment', () => {
    expect(processCount('3', { MANDATE_PROCESSES: '5' })).toBe(3);
    expect(processCount(undefined, { MANDATE_PROCESSES: '5' })).toBe(5);
  });

  it('runs one process per core when neither says', () => {
    expect(processCount(undefined, {})).toBe(availableParallelism());
  });

  it('refuses what is not a count from 1 to 256 (exit code 2)', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '257'])
      expect(() => processCount(bad, {})).toThrow(expect.objectContaining({ exitCode: 2 }));
  });
});
