// Who an operator is and what they may do in the console: the operator identities and roles of domain/operator.ts.
import { ProblemError } from '../../domain/errors.ts';
import {
  BOOTSTRAP_OPERATOR_ID,
  type Operator,
  operatorMay,
  type Permission,
  rolesWith,
} from '../../domain/operator.ts';
import type { OperatorSession } from '../../domain/operator-session.ts';
import { isOidcOperator, rolesOfGroups } from '../../domain/operator-sign-in.ts';
import { nowSecOf } from '../../services/broker.ts';
import type { ConsoleSettings, HttpDeps } from '../http-deps.ts';

/** True when one of the operator's roles grants `permission` (the admin API's own table). */
export const permits = operatorMay;

/** Refuses (403) an operator whose roles do not grant `permission`. */
export function requirePermission(operator: Operator, permission: Permission): void {
  if (!operatorMay(operator, permission))
    throw new ProblemError(
      403,
      'Not allowed',
      `your roles do not allow ${permission} (roles that do: ${rolesWith(permission).join(', ')})`,
    );
}

/** The operator an operator token names (the same lookup as the admin API's bearer tokens), or undefined. */
export function operatorOfToken(
  deps: Pick<HttpDeps, 'adminIdentity'>,
  token: string,
): Promise<Operator | undefined> {
  return deps.adminIdentity(token);
}

/**
 * The operator of a session as they stand now, or undefined when the session must end: revoking
 * (or the expiry of) an operator token ends its console sessions at once, as it ends its API
 * calls; the bootstrap operator stays while MANDATE_ADMIN_TOKEN is set. An operator signed in at
 * the upstream provider has no token: their roles are the groups of their sign-in mapped by the
 * current `operators.role_groups`, and the session ends when that leaves none (or when upstream
 * sign-in is no longer configured).
 */
export async function liveOperator(
  deps: Pick<HttpDeps, 'broker' | 'bootstrapConfigured'> & {
    readonly console?:
      | { readonly oidc?: Pick<NonNullable<ConsoleSettings['oidc']>, 'roleGroups'> | undefined }
      | undefined;
  },
  session: Pick<OperatorSession, 'operator' | 'groups'>,
): Promise<Operator | undefined> {
  const { operator } = session;
  if (operator.id === BOOTSTRAP_OPERATOR_ID)
    return deps.bootstrapConfigured === true ? operator : undefined;
  if (isOidcOperator(operator)) {
    const oidc = deps.console?.oidc;
    const roles = oidc ? rolesOfGroups(oidc.roleGroups, session.groups ?? []) : [];
    return roles.length > 0 ? { ...operator, roles } : undefined;
  }
  const live = await deps.broker.operators.list(nowSecOf(deps.broker));
  return live.some((t) => t.id === operator.id) ? operator : undefined;
}
