// @mandate/sdk as users get it: `npm pack`, installed into an empty project, type-checked and run (its README's examples, on the oldest Node found) against a real broker.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, CRM, type Credentials } from '../support/broker.ts';
import { freePort } from '../support/redis-server.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../..');
const SDK_DIR = join(REPO, 'packages/sdk');
/** The READMEs whose ```ts file=<name> blocks are compiled against the package (the SDK's are also run). */
const READMES = [join(SDK_DIR, 'README.md'), join(REPO, 'README.md')];
const SERVER_DEPENDENCIES = [
  '@cedar-policy',
  'bullmq',
  'ioredis',
  'pino',
  'tsx',
  'zod',
  'esbuild',
  '@hono/zod-openapi',
];
const MAX_INSTALLED_BYTES = 5 * 1024 * 1024;

/** npm with the variables of the npm run that started vitest removed, so it acts on `cwd` alone. */
function npm(args: string[], cwd: string) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')),
  );
  return run('npm', args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 240_000 });
}

/** The READMEs' examples: every ```ts block whose info string names a `file=`. */
function readmeExamples(): Map<string, string> {
  const out = new Map<string, string>();
  for (const readme of READMES)
    for (const m of readFileSync(readme, 'utf8').matchAll(/^```ts file=(\S+)\n([\s\S]*?)^```$/gm))
      out.set(m[1] as string, m[2] as string);
  return out;
}

/** Bytes of every file under `dir` (apparent sizes). */
function sizeOf(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) total += sizeOf(p);
    else if (entry.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Package names installed in a node_modules (scoped ones as `@scope/name`). */
function packagesIn(nodeModules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(nodeModules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@'))
      for (const sub of readdirSync(join(nodeModules, entry))) names.push(`${entry}/${sub}`);
    else names.push(entry);
  }
  return names.sort();
}

/** The oldest Node >= 20 on this machine (the package promises 20), else the one running vitest. */
async function oldestNode(): Promise<{ bin: string; version: string }> {
  const found: { bin: string; version: string; major: number }[] = [];
  for (const bin of ['/usr/bin/node', '/usr/local/bin/node', process.execPath]) {
    try {
      const { stdout } = await run(bin, ['--version']);
      const version = stdout.trim();
      const major = Number(version.replace(/^v/, '').split('.')[0]);
      if (major >= 20) found.push({ bin, version, major });
    } catch {
      // not installed there
    }
  }
  found.sort((a, b) => a.major - b.major);
  const oldest = found[0];
  if (!oldest) throw new Error('no Node >= 20 found');
  return oldest;
}

let broker: TestBroker;
let agent: Credentials;
let crm: Credentials;
let project: string;
let tarball: string;
let node: { bin: string; version: string };
const children: ChildProcess[] = [];

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'mandate-sdk-'));
  const packs = join(project, '.packs');
  mkdirSync(packs);
  // `npm pack` runs the package's prepack (its build) first.
  await npm(['pack', '--pack-destination', packs, '--silent'], SDK_DIR);
  const [file] = readdirSync(packs).filter((f) => f.endsWith('.tgz'));
  if (!file) throw new Error('npm pack wrote no tarball');
  tarball = join(packs, file);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'agent-project', private: true, type: 'module' }),
  );
  await npm(['install', tarball, '--prefer-offline', '--no-audit', '--no-fund'], project);
  node = await oldestNode();
  broker = await startTestBroker({ name: 'sdkpack' });
  agent = await broker.client({ name: 'packaged agent', kind: 'agent' });
  crm = await broker.client({ name: 'packaged CRM', kind: 'resource', resources: [CRM] });
}, 300_000);

afterAll(async () => {
  for (const child of children) child.kill();
  await broker?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

/** Starts a compiled example as a server on a free port; resolves once it prints that it listens. */
async function serveExample(file: string): Promise<string> {
  const port = await freePort();
  const child = spawn(node.bin, [join(project, 'out', file)], {
    cwd: project,
    env: {
      ...process.env,
      MANDATE_URL: broker.issuer,
      CRM_ID: crm.client_id,
      CRM_SECRET: crm.client_secret,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${file} did not start: ${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${file} exited with ${code}: ${output}`));
    });
  });
  return `http://127.0.0.1:${port}`;
}

/** Runs the compiled agent example against a resource; resolves with what it printed. */
async function runAgent(crmUrl: string) {
  return run(node.bin, [join(project, 'out', 'agent.js')], {
    cwd: project,
    env: {
      ...process.env,
      MANDATE_URL: broker.issuer,
      AGENT_ID: agent.client_id,
      AGENT_SECRET: agent.client_secret,
      CRM_URL: crmUrl,
    },
    timeout: 30_000,
  });
}

describe('npm pack of @mandate/sdk', () => {
  it('holds the compiled SDK and its README, nothing of tests, benchmarks or server code', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball]);
    const files = stdout.trim().split('\n').sort();
    expect(files).toContain('package/package.json');
    expect(files).toContain('package/README.md');
    expect(files).toContain('package/dist/client/index.js');
    expect(files).toContain('package/dist/client/index.d.ts');
    const unexpected = files.filter(
      (f) =>
        !/^package\/(package\.json|README\.md)$/.test(f) &&
        !/^package\/dist\/client\/[a-z-]+\.(js|d\.ts)$/.test(f) &&
        !/^package\/dist\/domain\/(agent-task|dpop|canonical-json|caep-event-types|resource-uri|tool-arguments|lru-map)\.(js|d\.ts)$/.test(
          f,
        ),
    );
    expect(unexpected).toEqual([]);
  });

  it('installs into an empty project with only jose and oauth4webapi, under 5 MB', () => {
    const nodeModules = join(project, 'node_modules');
    const installed = packagesIn(nodeModules);
    expect(installed).toEqual(['@mandate/sdk', 'jose', 'oauth4webapi']);
    for (const server of SERVER_DEPENDENCIES)
      expect(installed.some((p) => p === server || p.startsWith(`${server}/`))).toBe(false);
    const bytes = sizeOf(nodeModules);
    console.info(`installed node_modules: ${(bytes / 1024).toFixed(0)} KiB`);
    expect(bytes).toBeLessThan(MAX_INSTALLED_BYTES);
    const manifest = JSON.parse(
      readFileSync(join(nodeModules, '@mandate/sdk/package.json'), 'utf8'),
    ) as { engines: { node: string }; type: string };
    expect(manifest).toMatchObject({ type: 'module', engines: { node: '>=20' } });
  });

  it('imports every entry point on the oldest Node found, importing nothing but its dependencies', async () => {
    const script = `
      const entries = ['@mandate/sdk', '@mandate/sdk/guard', '@mandate/sdk/hono', '@mandate/sdk/mcp'];
      const loaded = await Promise.all(entries.map((e) => import(e)));
      console.log(JSON.stringify(loaded.map((m) => Object.keys(m).sort())));`;
    const { stdout } = await run(node.bin, ['--input-type=module', '-e', script], { cwd: project });
    const [client, guard, hono, mcp] = JSON.parse(stdout) as string[][];
    expect(client).toContain('createMandateClient');
    expect(client).toContain('GrantRevokedError');
    expect(guard).toContain('createMandateGuard');
    expect(hono).toContain('requireMandate');
    expect(mcp).toContain('createMcpGuard');
    console.info(`entry points imported on Node ${node.version}`);
    // Every bare import of the compiled code is a dependency, an optional peer or a builtin.
    const dist = join(project, 'node_modules/@mandate/sdk/dist');
    const specifiers = new Set<string>();
    for (const dir of ['client', 'domain'])
      for (const f of readdirSync(join(dist, dir)).filter((n) => n.endsWith('.js')))
        for (const m of readFileSync(join(dist, dir, f), 'utf8').matchAll(/from '([^'.][^']*)'/g))
          specifiers.add(m[1] as string);
    for (const s of specifiers) expect(s).toMatch(/^(node:[a-z/_]+|jose|oauth4webapi|hono)$/);
  });
});

describe("the README's examples, written against the installed package", () => {
  beforeAll(async () => {
    // The resource examples need their framework: the versions the repository uses.
    const version = (name: string) =>
      (
        JSON.parse(readFileSync(join(REPO, 'node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    await npm(
      [
        'install',
        `hono@${version('hono')}`,
        `@hono/node-server@${version('@hono/node-server')}`,
        `@modelcontextprotocol/sdk@${version('@modelcontextprotocol/sdk')}`,
        `zod@${version('zod')}`,
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
      ],
      project,
    );
    const examples = readmeExamples();
    expect([...examples.keys()].sort()).toEqual([
      'agent.ts',
      'crm.ts',
      'guard.ts',
      'mcp-agent.ts',
      'mcp-server.ts',
      'readme-hono.ts',
    ]);
    mkdirSync(join(project, 'src'), { recursive: true });
    for (const [file, code] of examples) writeFileSync(join(project, 'src', file), code);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          rootDir: 'src',
          outDir: 'out',
          types: ['node'],
          typeRoots: [join(REPO, 'node_modules/@types')],
        },
        include: ['src'],
      }),
    );
  }, 300_000);

  it('type-check (the SDK .d.ts included) and compile', async () => {
    const tsc = join(REPO, 'node_modules/.bin/tsc');
    const result = await run(tsc, ['-p', join(project, 'tsconfig.json')], { cwd: project }).catch(
      (err: { stdout?: string; code?: number }) => ({ stdout: err.stdout ?? '', failed: err.code }),
    );
    expect(result.stdout).toBe('');
    expect(readdirSync(join(project, 'out')).sort()).toEqual([
      'agent.js',
      'crm.js',
      'guard.js',
      'mcp-agent.js',
      'mcp-server.js',
      'readme-hono.js',
    ]);
  }, 120_000);

  it('the agent reads a record through the Hono resource and the plain Node guard', async () => {
    for (const resource of ['crm.js', 'guard.js']) {
      const url = await serveExample(resource);
      // Without a token the resource refuses with an RFC 6750 challenge.
      const bare = await fetch(`${url}/records/42`);
      expect(bare.status).toBe(401);
      expect(bare.headers.get('www-authenticate')).toMatch(/^Bearer realm=/);
      await bare.body?.cancel();
      const { stdout } = await runAgent(url);
      expect(stdout).toContain(agent.client_id);
      expect(stdout).toMatch(/g_[A-Za-z0-9_-]+/);
    }
    // withTask ended the grants: the agent holds nothing live.
    const grants = await admin<{ grants: { status: string }[] }>(
      broker.url,
      'GET',
      `/admin/grants?client_id=${agent.client_id}&limit=100`,
    );
    expect(grants.body.grants.map((g) => g.status)).toEqual(['revoked', 'revoked']);
  }, 120_000);
});
