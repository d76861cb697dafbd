// Who an operator is and what they may do in the console: the operator identities and roles of domain/operator.ts.
import { ProblemError } from '../../domain/errors.ts';
import {
  BOOTSTRAP_OPERATOR_ID,
  type Operator,
  operatorMay,
  type Permission,
  rolesWith,
} from '../../domain/operator.ts';
import { isOidcOperator, mapsAnyRole } from '../../domain/operator-sign-in.ts';
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
 * True while the operator a session was opened for still has a live token: revoking (or the
 * expiry of) an operator token ends its console sessions at once, as it ends its API calls.
 * The bootstrap operator stays while MANDATE_ADMIN_TOKEN is set. An operator signed in at the
 * upstream provider has no token: their session lasts its own bounded lifetime, while upstream
 * sign-in stays configured with at least one role mapped (a restart without it ends them).
 */
export async function operatorStillLive(
  deps: Pick<HttpDeps, 'broker' | 'bootstrapConfigured'> & {
    readonly console?: Pick<ConsoleSettings, 'oidc'> | undefined;
  },
  operator: Operator,
): Promise<boolean> {
  if (operator.id === BOOTSTRAP_OPERATOR_ID) return deps.bootstrapConfigured === true;
  if (isOidcOperator(operator)) {
    const oidc = deps.console?.oidc;
    return oidc !== undefined && mapsAnyRole(oidc.roleGroups);
  }
  const live = await deps.broker.operators.list(nowSecOf(deps.broker));
  return live.some((t) => t.id === operator.id);
}
