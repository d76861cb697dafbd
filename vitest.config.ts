// Vitest configuration: one shared private Redis for all files, forked workers, and a JSON report under CI.
import { defineConfig } from 'vitest/config';

const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // .ci/run reads vitest's own counts from this file; the default reporter keeps the console readable.
    reporters: ci ? ['default', ['json', { outputFile: '.ci/vitest-report.json' }]] : ['default'],
  },
});
