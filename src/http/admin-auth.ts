// Bearer admin token for /admin/*: problem+json 401 without it.
import type { Context, Next } from 'hono';
import type { HttpDeps } from './http-deps.ts';
import { problem, renderProblem } from './problem-response.ts';

export type AdminEnv = { Variables: { admin: string } };

export function requireAdmin(deps: HttpDeps) {
  return async function adminAuth(c: Context<AdminEnv>, next: Next) {
    const match = /^Bearer ([\x21-\x7e]{1,512})$/.exec(c.req.header('authorization') ?? '');
    let who: string | undefined;
    try {
      who = match?.[1] ? await deps.adminIdentity(match[1]) : undefined;
    } catch (err) {
      return renderProblem(c, err, deps.log);
    }
    if (!who) {
      const res = problem(401, 'Unauthorized', 'a valid admin bearer token is required');
      res.headers.set('WWW-Authenticate', 'Bearer realm="mandate-admin"');
      return res;
    }
    c.set('admin', who);
    await next();
  };
}
