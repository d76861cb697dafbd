// Operators who sign in to the console at the upstream OpenID Provider: their id, their roles from group claims, and the pending sign-in's port (pure).
import type { SignedInPerson } from './authorization-request.ts';
import { type Operator, ROLES, type Role } from './operator.ts';

/** What the id of an operator signed in upstream starts with: `oidc:<sub>`. */
export const OIDC_OPERATOR_PREFIX = 'oidc:';

/** Longest `sub` accepted (OpenID Connect Core 2: at most 255 ASCII characters). */
const MAX_SUB_LENGTH = 255;

/** How long a started console sign-in waits for the person to come back (s). */
export const OPERATOR_SIGN_IN_TTL_SEC = 300;

/** Config `operators.role_groups`: for each role, the upstream groups whose members hold it. */
export type RoleGroups = Partial<Record<Role, readonly string[]>>;

/** True when the operator signed in at the upstream OpenID Provider (not with a token). */
export function isOidcOperator(operator: Pick<Operator, 'id'>): boolean {
  return operator.id.startsWith(OIDC_OPERATOR_PREFIX);
}

/** True when at least one role names at least one group: without that, nobody may sign in upstream. */
export function mapsAnyRole(roleGroups: RoleGroups): boolean {
  return ROLES.some((r) => (roleGroups[r]?.length ?? 0) > 0);
}

/** The roles whose groups intersect the person's groups, in the order of ROLES. */
export function rolesOfGroups(roleGroups: RoleGroups, groups: readonly string[]): Role[] {
  const held = new Set(groups);
  return ROLES.filter((r) => (roleGroups[r] ?? []).some((g) => held.has(g)));
}

/** Who a person signed in upstream is in the console, or why they may not sign in. */
export type OperatorOfPerson =
  | { readonly operator: Operator }
  | { readonly refused: 'no_role' | 'unusable_sub' };

/**
 * The operator a signed-in person becomes: id `oidc:<sub>`, the mapped roles, and their name
 * (else email, else sub) for display. No mapped role: refused.
 */
export function operatorOfPerson(person: SignedInPerson, roleGroups: RoleGroups): OperatorOfPerson {
  if (person.sub.length === 0 || person.sub.length > MAX_SUB_LENGTH)
    return { refused: 'unusable_sub' };
  const roles = rolesOfGroups(roleGroups, person.groups);
  if (roles.length === 0) return { refused: 'no_role' };
  return {
    operator: {
      id: `${OIDC_OPERATOR_PREFIX}${person.sub}`,
      name: person.name ?? person.email ?? person.sub,
      roles,
      ...(person.email ? { email: person.email } : {}),
    },
  };
}

/** A console sign-in between its start and the person's return from the upstream provider. */
export interface PendingOperatorSignIn {
  /** The relying party's state, nonce and PKCE verifier (never sent to the browser but in the upstream URL). */
  readonly login: { readonly state: string; readonly nonce: string; readonly verifier: string };
  /** The console path to go to once signed in. */
  readonly next: string;
  /** Epoch seconds. */
  readonly expires_at: number;
}

/** Port: pending console sign-ins under a random id the browser's cookie holds (the store keeps its digest). */
export interface OperatorSignInStore {
  put(id: string, pending: PendingOperatorSignIn, ttlSec: number): Promise<void>;
  /** Removes the pending sign-in and returns it, once: a callback is used once. */
  take(id: string): Promise<PendingOperatorSignIn | undefined>;
}
