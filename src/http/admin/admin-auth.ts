// Bearer admin token for /admin/*: problem+json 401 without it.

import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, Next } from 'hono';
import type { HttpDeps } from '../http-deps.ts';
import { problem, renderProblem } from '../problem-response.ts';
import { noteAuthenticated } from '../rate-limit.ts';

export type AdminEnv = { Variables: { admin: string } };

/** The admin sub-app: every route sees who the admin is. */
export type AdminApp = OpenAPIHono<AdminEnv>;

export function requireAdmin(deps: HttpDeps) {
  return async function adminAuth(c: Context<AdminEnv>, next: Next) {
    const token = /^Bearer ([\x21-\x7e]{1,512})$/.exec(c.req.header('authorization') ?? '')?.[1];
    let who: string | undefined;
    try {
      who = token ? await deps.adminIdentity(token) : undefined;
    } catch (err) {
      return renderProblem(c, err, deps.log);
    }
    if (!who || !token) {
      const res = problem(401, 'Unauthorized', 'a valid admin bearer token is required');
      res.headers.set('WWW-Authenticate', 'Bearer realm="mandate-admin"');
      return res;
    }
    c.set('admin', who);
    noteAuthenticated(c, { kind: 'admin', token });
    await next();
  };
}
