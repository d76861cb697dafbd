// Real headless Chromium for the console tests (playwright-core driving Debian's chromium): launch, screenshots, axe-core.
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect, type TestContext } from 'vitest';

/** Where Debian's chromium package puts the browser (override with CHROMIUM_PATH). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Screenshots land here, and are attached to the vitest report. */
export const SCREENSHOT_DIR = resolve(import.meta.dirname, '../../test-results/console');
const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** Launches headless Chromium; fails (never skips) with what to install when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the console browser tests need it. Install it with ` +
        '`apt-get install -y chromium` (.ci/run does when root), or set CHROMIUM_PATH.',
    );
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Root in a container has no user namespace for the sandbox; the pages are our own.
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

interface AxeViolation {
  id: string;
  impact?: string | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

/** Runs axe-core in the page; serious and critical violations fail the test. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  await page.addScriptTag({ path: AXE_PATH });
  const violations = await page.evaluate(async () => {
    const { axe } = globalThis as unknown as {
      axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: AxeViolation[] }> };
    };
    const { document } = globalThis as unknown as { document: unknown };
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => JSON.stringify(n.target)),
    }));
  });
  const severe = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(severe, `axe on ${name}: ${JSON.stringify(severe, null, 1)}`).toEqual([]);
}

/** A full-page screenshot under SCREENSHOT_DIR, attached to the test's report entry. */
export async function screenshot(ctx: TestContext, page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  await ctx.annotate(`screenshot: ${name}`, { path, contentType: 'image/png' });
}

/** What every console page gets checked for: a screenshot in the report, and axe. */
export async function checkPage(ctx: TestContext, page: Page, name: string): Promise<void> {
  await screenshot(ctx, page, name);
  await expectAccessible(page, name);
}
