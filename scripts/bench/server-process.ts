// Runs one benchmarked server as its own child process: start, wait until ready, read its CPU time, stop.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ServerProcessOptions {
  /** Short name used in messages and log file names. */
  readonly name: string;
  /** Arguments after the Node binary, e.g. `['--import', 'tsx', 'scripts/bench/servers/hello.ts']`. */
  readonly args: string[];
  readonly env: Record<string, string>;
  /** URL that answers 200 once the server can take load. */
  readonly readyUrl: string;
  /** File receiving the child's stdout and stderr (logs go to a file, as they would in production). */
  readonly logFile: string;
  readonly readyTimeoutMs?: number;
}

export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  /** User + system CPU seconds the child has used so far (all its threads). */
  cpuSeconds(): number;
  /** False once the child has exited (a crash under load shows up here). */
  alive(): boolean;
  /** The last lines of the child's log, for error messages. */
  logTail(lines?: number): string;
  stop(): Promise<void>;
}

const CLOCK_TICKS = readClockTicks();

/** Spawns `process.execPath ...args` (the pinned Node under npm) and resolves once `readyUrl` answers 200. */
export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const log = openSync(options.logFile, 'w');
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every server, for finding where the time goes.
  const profDir = process.env.BENCH_CPU_PROF;
  const args = profDir
    ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, ...options.args]
    : options.args;
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...options.env },
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(-1));
  });
  const pid = child.pid;
  const server: ServerProcess = {
    name: options.name,
    pid: pid ?? -1,
    cpuSeconds: () => readCpuSeconds(options.name, pid ?? -1),
    alive: () => child.exitCode === null && child.signalCode === null,
    logTail: (lines = 20) => tail(options.logFile, lines),
    stop: () => stopChild(child, exited),
  };
  if (pid === undefined) throw new Error(`${options.name}: could not spawn ${process.execPath}`);
  try {
    await waitReady(options, exited);
  } catch (err) {
    await server.stop();
    throw new Error(
      `${(err as Error).message}\n--- ${options.name} log tail ---\n${server.logTail()}`,
    );
  }
  return server;
}

async function waitReady(
  options: ServerProcessOptions,
  exited: Promise<number | null>,
): Promise<void> {
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exitCode !== undefined)
      throw new Error(`${options.name} exited (code ${exitCode}) before it was ready`);
    try {
      const res = await fetch(options.readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${options.name} not ready at ${options.readyUrl} (${last})`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** utime + stime from /proc/<pid>/stat (fields 14 and 15), which counts every thread of the process. */
export function readCpuSeconds(name: string, pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    throw new Error(`${name} (pid ${pid}) is no longer running`);
  }
  // The command name (field 2) may hold spaces: count fields from its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

function readClockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

function tail(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
