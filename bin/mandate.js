#!/usr/bin/env node
// The `mandate` command: runs the compiled CLI from dist/, or the TypeScript sources through tsx in a checkout.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/cli.js', import.meta.url);

if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../src/cli.ts', import.meta.url).href);
}
