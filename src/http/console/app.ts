// The operator console (/console): server-rendered HTML pages over the same services as the admin API, with its own error pages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Hono } from 'hono';
import { liveCounts } from '../../services/live-counts.ts';
import { createBodyLimit } from '../body-limit.ts';
import type { RateLimiter } from '../rate-limit.ts';
import { registerAgents } from './agents.tsx';
import { registerApprovals } from './approvals.tsx';
import { registerAudit } from './audit.tsx';
import { errorPage, renderConsoleError } from './error-page.tsx';
import { registerGrants } from './grants.tsx';
import { registerOidcSignIn } from './oidc-sign-in.ts';
import { permits } from './operator.ts';
import { registerPolicies } from './policies.tsx';
import { consoleSecurityHeaders } from './security-headers.ts';
import { type ConsoleApp, type ConsoleDeps, type ConsoleEnv, requireSession } from './session.ts';
import { registerSignIn } from './sign-in.tsx';

/** The stylesheet and script, read once: served from our origin, as the CSP requires. */
const ASSETS = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
} as const;
const assetText = Object.fromEntries(
  Object.keys(ASSETS).map((name) => [
    name,
    readFileSync(join(import.meta.dirname, 'assets', name), 'utf8'),
  ]),
);

/**
 * The console under /console; mounted at `/` by the app. Sign-in (with a token, or at the upstream
 * provider and back through its callback) and the assets are open; every other path needs a
 * session (without one a page redirects to sign-in, a post gets 403).
 */
export function createConsoleApp(deps: ConsoleDeps, limiter: RateLimiter): ConsoleApp {
  const app = new Hono<ConsoleEnv>().basePath('/console');
  app.use('*', consoleSecurityHeaders);
  // A policy set posted as a form field grows in URL encoding: room for one at the API's body limit.
  app.use(
    '*',
    createBodyLimit(deps, 4 * deps.bodyLimitBytes, (c, max) =>
      errorPage(c, 413, 'Too large', `a form may carry at most ${max} bytes`),
    ),
  );
  for (const [name, type] of Object.entries(ASSETS))
    app.get(`/assets/${name}`, (c) =>
      c.body(assetText[name] ?? '', 200, { 'Content-Type': type, 'Cache-Control': 'no-cache' }),
    );
  registerSignIn(app, deps, limiter);
  registerOidcSignIn(app, deps);

  // Everything registered from here on runs behind the session.
  app.use('*', requireSession(deps));
  app.get('/', (c) =>
    c.redirect(
      permits(c.var.session.operator, 'approvals:read') ? '/console/approvals' : '/console/grants',
      303,
    ),
  );
  app.get('/counts', async (c) => c.json(await liveCounts(deps.broker)));
  registerApprovals(app, deps);
  registerGrants(app, deps);
  registerAgents(app, deps);
  registerPolicies(app, deps);
  registerAudit(app, deps);
  app.all('*', (c) => errorPage(c, 404, 'Not found', 'no console page here'));
  app.onError((err, c) => renderConsoleError(c, err, deps.log));
  return app;
}
