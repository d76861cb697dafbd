// POST /v1/signals: a resource (Basic auth) or an admin (bearer) reports a context change -> 202.
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { Client } from '../../domain/client.ts';
import { ProblemError } from '../../domain/errors.ts';
import { reportSignal, SignalRequestSchema } from '../../services/report-signal.ts';
import { authenticateBasic } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readJson } from '../read-body.ts';

/** Registers `POST /v1/signals` on the signals sub-app. */
export function registerReportSignal(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  app.post('/signals', rateLimit, async function signal(c) {
    const header = c.req.header('authorization') ?? '';
    let caller: Client | undefined;
    const bearer = /^Bearer (.{1,512})$/.exec(header)?.[1];
    if (bearer) {
      if (!(await deps.adminIdentity(bearer)))
        throw new ProblemError(401, 'Unauthorized', 'invalid admin token');
    } else {
      caller = await authenticateBasic(c, deps.broker);
      if (caller.kind !== 'resource')
        throw new ProblemError(403, 'Forbidden', 'only resource clients and admins report signals');
    }
    const result = await reportSignal(deps.broker, caller, await readJson(c, SignalRequestSchema));
    return c.json(result, 202);
  });
}
