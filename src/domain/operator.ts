// Operators of the admin API and console: who they are, their roles, and what each role may do (pure).
import { z } from 'zod';

/** The four operator roles of the contract. */
export const ROLES = ['admin', 'approver', 'auditor', 'viewer'] as const;
export type Role = (typeof ROLES)[number];
export const RoleSchema = z.enum(ROLES);

/**
 * What an admin route (or a console page) requires. Every admin route declares exactly one
 * (`adminRoute` in src/http/admin/admin-auth.ts); `<thing>:read` permissions are reads.
 */
export const PERMISSIONS = [
  'clients:read',
  'clients:write',
  'grants:read',
  'grants:revoke',
  'approvals:read',
  'approvals:decide',
  'decisions:read',
  'audit:verify',
  'policies:read',
  'policies:write',
  'policies:simulate',
  'keys:rotate',
  'receivers:read',
  'receivers:write',
  'trusted-issuers:read',
  'trusted-issuers:write',
  'operators:read',
  'operators:write',
  'signals:report',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const READS = PERMISSIONS.filter((p) => p.endsWith(':read'));

/**
 * The contract's roles: `admin` everything; `approver` reads approvals, grants and decisions and
 * decides approvals; `auditor` reads everything and verifies the audit chain; `viewer` reads
 * clients, grants and approvals.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  admin: new Set(PERMISSIONS),
  approver: new Set<Permission>([
    'approvals:read',
    'approvals:decide',
    'grants:read',
    'decisions:read',
  ]),
  auditor: new Set<Permission>([...READS, 'audit:verify']),
  viewer: new Set<Permission>(['clients:read', 'grants:read', 'approvals:read']),
};

/**
 * Who calls the admin API: a stored operator token (`id` is the token's id), the configured
 * bootstrap credential (`id` `bootstrap`), or a console sign-in at the upstream OpenID Provider
 * (`oidc:<sub>`, src/domain/operator-sign-in.ts). The `id`
 * is what decision records and approvals name as `by` / `decided_by`.
 */
export interface Operator {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /** The person's email, for display (operators signed in at the upstream OpenID Provider). */
  readonly email?: string | undefined;
}

/** The id of the operator behind an explicitly set MANDATE_ADMIN_TOKEN. */
export const BOOTSTRAP_OPERATOR_ID = 'bootstrap';

/** The operator behind an explicitly configured MANDATE_ADMIN_TOKEN. */
export const BOOTSTRAP_OPERATOR: Operator = {
  id: BOOTSTRAP_OPERATOR_ID,
  name: 'bootstrap',
  roles: ['admin'],
};

/** True when any of the roles grants the permission. */
export function rolesAllow(roles: readonly Role[], permission: Permission): boolean {
  return roles.some((r) => ROLE_PERMISSIONS[r]?.has(permission) === true);
}

/** True when the operator may do what the permission covers. */
export function operatorMay(operator: Operator, permission: Permission): boolean {
  return rolesAllow(operator.roles, permission);
}

/** The roles that grant a permission (for documents and error messages). */
export function rolesWith(permission: Permission): Role[] {
  return ROLES.filter((r) => ROLE_PERMISSIONS[r].has(permission));
}

/** A stored operator token as listed: never the token itself, nor its hash. */
export interface OperatorToken extends Operator {
  /** Epoch seconds. */
  readonly created_at: number;
  /** Epoch seconds, or null for a token that does not expire. */
  readonly expires_at: number | null;
  /** The operator id that created it (`system` for one generated at start). */
  readonly created_by: string;
}

/** `POST /admin/tokens`: a name, one or more roles, and an optional lifetime in seconds. */
export const OperatorTokenInputSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(100)
      .regex(/^[\x20-\x7e]+$/, 'printable ASCII'),
    roles: z
      .array(RoleSchema)
      .min(1)
      .max(ROLES.length)
      .refine((rs) => new Set(rs).size === rs.length, 'roles must be distinct'),
    ttl: z
      .number()
      .int()
      .min(60)
      .max(366 * 86_400)
      .optional(),
  })
  .strict();
export type OperatorTokenInput = z.infer<typeof OperatorTokenInputSchema>;

/** True while the token may be used at `nowSec`. */
export function operatorTokenLive(token: Pick<OperatorToken, 'expires_at'>, nowSec: number) {
  return token.expires_at === null || token.expires_at > nowSec;
}

/** Port: operator tokens, kept only as hashes (implemented in src/store/redis-admin-tokens.ts). */
export interface OperatorTokenStore {
  /** The live operator a bearer token belongs to, or undefined. */
  identify(token: string, nowSec: number): Promise<Operator | undefined>;
  /** Stores a token (only its hash) with its record. */
  add(token: string, record: OperatorToken): Promise<void>;
  /**
   * Stores the token only when no operator token exists yet (atomically: of several processes
   * starting at once, one stores). True when stored.
   */
  addIfNone(token: string, record: OperatorToken): Promise<boolean>;
  /** Every stored token, live ones first by creation; expired ones are dropped on the way. */
  list(nowSec: number): Promise<OperatorToken[]>;
  /** Revokes a token by id; false when there is none. Every process refuses it from then on. */
  revoke(id: string): Promise<boolean>;
}
