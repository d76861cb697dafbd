// Starts Mandate: the HTTP API, the re-evaluation worker, or both, and stops them on SIGTERM.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { loadConfig } from './config/load-config.ts';
import { describeTopology, redisTopology } from './config/redis-topology.ts';
import type { Config } from './config/schema.ts';
import { createDeps, type Deps, httpDepsOf } from './deps.ts';
import type { Clock } from './domain/ports.ts';
import { createApp } from './http/app.ts';
import { createOperationsApp } from './http/operations.ts';
import { seedClients } from './services/manage-clients.ts';
import { seedTrustedIssuers } from './services/manage-trusted-issuers.ts';

export interface StartOptions {
  readonly api: boolean;
  readonly worker: boolean;
  /** Environment to read config from (tests pass their own). */
  readonly env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT handlers (off for in-process tests). */
  readonly handleSignals?: boolean;
  /** The clock every decision reads (tests move it; the system clock by default). */
  readonly clock?: Clock;
}

export interface RunningMandate {
  readonly url: string | undefined;
  readonly deps: Deps;
  close(): Promise<void>;
}

/**
 * The broker could not start for a reason outside its configuration (Redis unreachable, the port
 * taken): one line to print, exit code 1. Configuration errors are ConfigError, exit code 2.
 */
export class StartupError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

type Server = ReturnType<typeof serve>;

/**
 * Starts the HTTP server with its limits set deliberately (config `server.*`; Node's defaults
 * would let a client hold a connection a minute before sending its headers, or five minutes on
 * one request, and accept connections without end). Rejects when the address cannot be bound.
 */
function listen(
  app: { fetch: (req: Request, env: unknown) => Response | Promise<Response> },
  s: Config['server'],
  log: Deps['log'],
): Promise<Server> {
  return new Promise<Server>((ok, fail) => {
    const server = serve({
      fetch: app.fetch,
      hostname: s.host,
      port: s.port,
      serverOptions: {
        headersTimeout: s.headers_timeout_ms,
        requestTimeout: s.request_timeout_ms,
        keepAliveTimeout: s.keep_alive_timeout_ms,
        maxHeaderSize: s.max_header_size_bytes,
        // How often Node checks the two timeouts above; its default (30 s) would let them overrun that much.
        connectionsCheckingInterval: Math.max(
          250,
          Math.min(1000, Math.floor(s.headers_timeout_ms / 4)),
        ),
      },
    });
    server.maxConnections = s.max_connections;
    if ('maxHeadersCount' in server) server.maxHeadersCount = s.max_headers_count;
    const onError = (err: Error) => fail(err);
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      // A failed accept (EMFILE) is the server's 'error' event: logged, never an uncaught exception.
      server.on('error', (err: Error) => log.error({ err: err.message }, 'http server error'));
      ok(server);
    });
  });
}

/**
 * Logs a fault that escaped every handler, then ends the process (exit 1) for its supervisor to
 * restart: after an exception nobody caught, this process's state (a batch half-sealed, a lock
 * held) cannot be trusted to keep failing closed, so it is not carried on. The request paths
 * catch their own faults; reaching this is a bug, and the log line says where.
 */
function exitOnEscapedFault(log: Deps['log']): void {
  const fatal = (kind: string) => (err: unknown) => {
    log.fatal(
      {
        err:
          err instanceof Error
            ? { type: err.name, message: err.message, stack: err.stack }
            : String(err),
      },
      `${kind}: ending the process`,
    );
    process.exit(1);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled promise rejection'));
}

export async function startMandate(opts: StartOptions): Promise<RunningMandate> {
  const loaded = loadConfig(opts.env ?? process.env);
  const deps = createDeps(loaded, opts.clock ? { clock: opts.clock } : {});
  const { config } = loaded;
  if (opts.handleSignals ?? true) exitOnEscapedFault(deps.log);
  if (opts.api && config.server.issuer === undefined) {
    // Every process behind one URL must name the same issuer, or each refuses the others' tokens.
    deps.log.warn(
      { issuer: loaded.issuer },
      'server.issuer (MANDATE_ISSUER) is not set: this process names its own address as issuer; set one public URL shared by every Mandate process',
    );
  }
  try {
    await deps.start();
  } catch (err) {
    if ((err as { exitCode?: unknown }).exitCode !== undefined) throw err;
    throw new StartupError(
      `mandate: cannot start: Redis at ${describeTopology(redisTopology(config.redis))} is not reachable (${(err as Error).message ?? String(err)})`,
    );
  }
  await seedClients(deps.broker, config.clients);
  await seedTrustedIssuers(deps.broker, config.federation.issuers);
  // Only a process that serves the API may mint the first operator token; a worker never does.
  const generated = opts.api ? await deps.bootstrapAdminToken() : undefined;
  if (generated)
    process.stderr.write(
      `mandate admin token for operator ${generated.id} (shown once; no other operator credential exists yet; create more with \`mandate tokens create\`): ${generated.token}\n`,
    );

  let server: ReturnType<typeof serve> | undefined;
  let url: string | undefined;
  if (opts.api) {
    const app = createApp(
      httpDepsOf(deps, (c) => {
        try {
          return getConnInfo(c).remote.address;
        } catch {
          return undefined;
        }
      }),
    );
    server = await listen(app, config.server, deps.log).catch(async (err: unknown) => {
      await deps.close().catch(() => undefined);
      throw new StartupError(
        `mandate: cannot listen on ${config.server.host}:${config.server.port}: ${(err as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message}`,
      );
    });
    const { port } = server.address() as AddressInfo;
    const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
    url = `http://${host}:${port}`;
    process.stdout.write(`mandate listening on ${url}\n`);
  }
  if (opts.worker) {
    await deps.startWorker();
    deps.log.info({ sweep_every_ms: config.worker.sweep_every_ms }, 're-evaluation worker running');
  }
  // A worker-only process serves its metrics, liveness and readiness on their own port. Several
  // workers may share a host: one that finds the port taken runs on without it (logged).
  if (!opts.api && opts.worker && config.worker.metrics_port > 0) {
    const app = createOperationsApp(httpDepsOf(deps, () => undefined));
    const where = {
      ...config.server,
      host: config.worker.metrics_host,
      port: config.worker.metrics_port,
    };
    server = await listen(app, where, deps.log).catch((err: unknown) => {
      deps.log.error(
        {
          host: where.host,
          port: where.port,
          err: (err as NodeJS.ErrnoException).code ?? String(err),
        },
        'worker metrics not served: cannot listen on worker.metrics_port (set another with MANDATE_WORKER_METRICS_PORT)',
      );
      return undefined;
    });
    if (server) {
      const { port } = server.address() as AddressInfo;
      const host = where.host.includes(':') ? `[${where.host}]` : where.host;
      process.stdout.write(`mandate worker metrics on http://${host}:${port}/metrics\n`);
    }
  }

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      if (server) await new Promise<void>((ok) => server?.close(() => ok()));
      await deps.close();
    })());
  if (opts.handleSignals ?? true) {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        deps.log.info({ signal }, 'shutting down');
        void close().then(() => process.exit(0));
      });
    }
  }
  return { url, deps, close };
}
