// POST /v1/signals: a resource (Basic auth) or an admin (bearer) reports a context change -> 202.
import { Hono } from 'hono';
import type { Client } from '../../domain/client.ts';
import { ProblemError } from '../../domain/errors.ts';
import { reportSignal, SignalRequestSchema } from '../../services/report-signal.ts';
import { authenticateBasic } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';
import { readJson } from '../read-body.ts';

export function signalRoutes(deps: HttpDeps): Hono {
  const app = new Hono();
  app.onError((err, c) => {
    const res =
      err instanceof Error && err.name === 'OAuthError'
        ? renderProblem(
            c,
            new ProblemError(
              401,
              'Unauthorized',
              'resource client or admin authentication is required',
            ),
            deps.log,
          )
        : renderProblem(c, err, deps.log);
    // RFC 9110 11.6.1: a 401 names the schemes that would work.
    if (res.status === 401)
      res.headers.set('WWW-Authenticate', 'Basic realm="mandate", Bearer realm="mandate-admin"');
    return res;
  });
  app.post('/v1/signals', async function signal(c) {
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
  return app;
}
