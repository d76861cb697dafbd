// Operator bearer tokens for /admin/*: 401 without a valid one, 403 when its roles lack the route's permission.

import { createRoute, type OpenAPIHono, type RouteConfig } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler, Next } from 'hono';
import {
  type Operator,
  operatorMay,
  type Permission,
  type Role,
  rolesWith,
} from '../../domain/operator.ts';
import type { HttpDeps } from '../http-deps.ts';
import { ADMIN_AUTH, ADMIN_ERRORS, problemReply } from '../openapi.ts';
import { problem, renderProblem } from '../problem-response.ts';
import { noteAuthenticated } from '../rate-limit.ts';

export type AdminEnv = { Variables: { operator: Operator } };

/** The admin sub-app: every route sees who the operator is (`c.var.operator`). */
export type AdminApp = OpenAPIHono<AdminEnv>;

/** Authenticates the operator's bearer token; its permissions are checked per route (adminRoute). */
export function requireAdmin(deps: HttpDeps) {
  return async function adminAuth(c: Context<AdminEnv>, next: Next) {
    const token = /^Bearer ([\x21-\x7e]{1,512})$/.exec(c.req.header('authorization') ?? '')?.[1];
    let who: Operator | undefined;
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
    c.set('operator', who);
    noteAuthenticated(c, { kind: 'admin', token });
    await next();
  };
}

/** 403 problem+json naming the permission and the roles that have it. */
export function forbidden(permission: Permission): Response {
  return problem(
    403,
    'Forbidden',
    `this operator's roles do not allow ${permission} (roles that do: ${rolesWith(permission).join(', ')})`,
    { permission },
  );
}

/** Refuses, with 403, an operator whose roles do not grant `permission`. */
export function requirePermission(permission: Permission): MiddlewareHandler<AdminEnv> {
  return async function checkPermission(c, next) {
    if (!operatorMay(c.var.operator, permission)) return forbidden(permission);
    await next();
  };
}

/** The OpenAPI extension naming a route's permission (read by tests and the console). */
export const PERMISSION_EXTENSION = 'x-mandate-permission';
/** The OpenAPI extension naming the roles that grant a route's permission. */
export const ROLES_EXTENSION = 'x-mandate-roles';

/**
 * An admin route: `createRoute` plus the permission it requires, checked by its own middleware
 * (403 problem+json) and written into /openapi.json as `x-mandate-permission` and
 * `x-mandate-roles`, so a test can enumerate every admin route with what it needs. Every admin
 * route takes the admin bearer and answers its 401, 429 and 503: those are added here.
 */
export function adminRoute<const R extends Omit<RouteConfig, 'middleware'>>(
  permission: Permission,
  route: R,
) {
  const roles: Role[] = rolesWith(permission);
  return createRoute({
    security: ADMIN_AUTH,
    ...route,
    responses: {
      ...ADMIN_ERRORS,
      ...route.responses,
      403: problemReply(`the operator's roles lack ${permission}`),
    },
    middleware: [requirePermission(permission)],
    [PERMISSION_EXTENSION]: permission,
    [ROLES_EXTENSION]: roles,
  } as Omit<R, 'responses'> & {
    responses: typeof ADMIN_ERRORS & R['responses'];
    middleware: MiddlewareHandler<AdminEnv>[];
    [PERMISSION_EXTENSION]: Permission;
    [ROLES_EXTENSION]: Role[];
  });
}
