// Who an operator is and what they may do in the console: the seam between sign-in and the operator identities.
import { ProblemError } from '../../domain/errors.ts';
import type { SessionOperator } from '../../domain/operator-session.ts';
import type { HttpDeps } from '../http-deps.ts';

/** What a console page or action needs (the roles of the contract's "Operators" section grant them). */
export type ConsolePermission =
  | 'approvals:read'
  | 'approvals:decide'
  | 'grants:read'
  | 'grants:revoke'
  | 'clients:read'
  | 'clients:disable'
  | 'decisions:read'
  | 'audit:verify'
  | 'policies:read'
  | 'policies:write';

const READ_ALL: readonly ConsolePermission[] = [
  'approvals:read',
  'grants:read',
  'clients:read',
  'decisions:read',
  'audit:verify',
  'policies:read',
];

/**
 * admin: everything; approver: read approvals, grants, decisions and decide approvals; auditor:
 * read everything and verify the audit chain; viewer: read clients, grants, approvals.
 */
const ROLE_PERMISSIONS: Readonly<Record<string, readonly ConsolePermission[]>> = {
  admin: [...READ_ALL, 'approvals:decide', 'grants:revoke', 'clients:disable', 'policies:write'],
  approver: ['approvals:read', 'approvals:decide', 'grants:read', 'decisions:read'],
  auditor: READ_ALL,
  viewer: ['approvals:read', 'grants:read', 'clients:read'],
};

/** True when one of the operator's roles grants `permission`; unknown roles grant nothing. */
export function permits(operator: SessionOperator, permission: ConsolePermission): boolean {
  return operator.roles.some((role) => ROLE_PERMISSIONS[role]?.includes(permission) ?? false);
}

/**
 * The operator an operator token names, or undefined. Today every admin token is one operator
 * with the admin role (its id is what `adminIdentity` answers); operator identities with their
 * own roles replace this mapping.
 */
export async function operatorOfToken(
  deps: Pick<HttpDeps, 'adminIdentity'>,
  token: string,
): Promise<SessionOperator | undefined> {
  const id = await deps.adminIdentity(token);
  return id ? { id, name: id, roles: ['admin'] } : undefined;
}

/** Refuses (403) an operator whose roles do not grant `permission`. */
export function requirePermission(operator: SessionOperator, permission: ConsolePermission): void {
  if (!permits(operator, permission))
    throw new ProblemError(403, 'Not allowed', `your roles do not allow ${permission}`);
}
