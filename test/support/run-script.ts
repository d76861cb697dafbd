// Runs one of the repository's scripts (a demo, the soak) as users do, collecting everything it prints.
import { spawn } from 'node:child_process';

/** Runs `node --import tsx <script>` in the repository with `env`; killed after `timeoutMs`. */
export function runScript(
  script: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 55_000,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn('node_modules/.bin/node', ['--import', 'tsx', script], {
      cwd: process.cwd(),
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** This process's environment without a broker to talk to, so a demo starts its own. */
export function envWithoutBroker(): NodeJS.ProcessEnv {
  const { MANDATE_URL: _u, MANDATE_ADMIN_TOKEN: _t, MANDATE_ISSUER: _i, ...env } = process.env;
  return env;
}
