// Starts Mandate: the HTTP API, the re-evaluation worker, or both, and stops them on SIGTERM.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { loadConfig } from './config/load-config.ts';
import { type Deps, createDeps } from './deps.ts';
import { createApp } from './http/app.ts';
import { seedClients } from './services/manage-clients.ts';

export interface StartOptions {
  readonly api: boolean;
  readonly worker: boolean;
  /** Environment to read config from (tests pass their own). */
  readonly env?: NodeJS.ProcessEnv;
  /** Install SIGTERM/SIGINT handlers (off for in-process tests). */
  readonly handleSignals?: boolean;
}

export interface RunningMandate {
  readonly url: string | undefined;
  readonly deps: Deps;
  close(): Promise<void>;
}

export async function startMandate(opts: StartOptions): Promise<RunningMandate> {
  const loaded = loadConfig(opts.env ?? process.env);
  const deps = createDeps(loaded);
  const { config } = loaded;
  if (opts.api && config.server.issuer === undefined) {
    // Every process behind one URL must name the same issuer, or each refuses the others' tokens.
    deps.log.warn({ issuer: loaded.issuer }, 'server.issuer (MANDATE_ISSUER) is not set: this process names its own address as issuer; set one public URL shared by every Mandate process');
  }
  await deps.start();
  await seedClients(deps.broker, config.clients);
  const adminToken = await deps.bootstrapAdminToken();
  if (adminToken) process.stderr.write(`mandate admin token (shown once; set MANDATE_ADMIN_TOKEN to choose your own): ${adminToken}\n`);

  let server: ReturnType<typeof serve> | undefined;
  let url: string | undefined;
  if (opts.api) {
    const app = createApp({
      broker: deps.broker,
      keyRing: deps.keyRing,
      metrics: deps.metrics,
      log: deps.log,
      adminIdentity: (t) => deps.adminIdentity(t),
      readiness: () => deps.readiness(),
      receivers: deps.receivers,
      rateLimit: {
        counter: deps.rateLimiter,
        authFailuresPerMinute: config.rate_limit.auth_failures_per_minute,
        invalidTokensPerMinute: config.rate_limit.invalid_tokens_per_minute,
      },
      bodyLimitBytes: config.server.body_limit_bytes,
      batchBodyLimitBytes: config.server.batch_body_limit_bytes,
      trustProxy: config.server.trust_proxy,
      remoteAddress: (c) => {
        try {
          return getConnInfo(c).remote.address;
        } catch {
          return undefined;
        }
      },
    });
    server = await new Promise<ReturnType<typeof serve>>((ok) => {
      const s = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port }, () => ok(s));
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
