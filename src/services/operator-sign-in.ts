// Operators sign in to the console at the upstream OpenID Provider (config login.oidc): start, and the callback that maps their groups to roles.
import { randomBase64url } from '../crypto/random-id.ts';
import type { PersonSignIn } from '../domain/authorization-store.ts';
import { ProblemError } from '../domain/errors.ts';
import type { Operator } from '../domain/operator.ts';
import {
  mapsAnyRole,
  OPERATOR_SIGN_IN_TTL_SEC,
  type OperatorSignInStore,
  operatorOfPerson,
  type RoleGroups,
} from '../domain/operator-sign-in.ts';
import { type Broker, nowSecOf } from './broker.ts';

/** What the console's upstream sign-in needs: the relying party of /oauth/authorize, reused. */
export interface OperatorSignInDeps {
  readonly broker: Pick<Broker, 'clock' | 'log'>;
  readonly signIn: PersonSignIn;
  readonly store: OperatorSignInStore;
  /** Where the provider sends the operator back: `<issuer>/console/callback`. */
  readonly callbackUri: string;
  /** Config `operators.role_groups`. */
  readonly roleGroups: RoleGroups;
}

/** Refuses (403) while no role maps a group: upstream sign-in to the console is off. */
export function requireRoleGroups(deps: Pick<OperatorSignInDeps, 'roleGroups'>): void {
  if (!mapsAnyRole(deps.roleGroups))
    throw new ProblemError(
      403,
      'Sign-in through the identity provider is off',
      'no console role is mapped from the provider’s groups: an administrator sets operators.role_groups, or sign in with an operator token',
    );
}

/**
 * Starts a sign-in: keeps its state, nonce and PKCE verifier server-side under a new random id
 * (for the browser's cookie) for a few minutes, and returns that id and the upstream URL.
 */
export async function startOperatorSignIn(
  deps: OperatorSignInDeps,
  next: string,
): Promise<{ id: string; url: string }> {
  requireRoleGroups(deps);
  const login = {
    state: randomBase64url(24),
    nonce: randomBase64url(24),
    verifier: randomBase64url(48),
  };
  const url = await deps.signIn.authorizationUrl(login, deps.callbackUri).catch((err: unknown) => {
    throw unreachable(deps, err);
  });
  const id = randomBase64url(32);
  await deps.store.put(
    id,
    { login, next, expires_at: nowSecOf(deps.broker) + OPERATOR_SIGN_IN_TTL_SEC },
    OPERATOR_SIGN_IN_TTL_SEC,
  );
  return { id, url };
}

/**
 * The operator is back from the provider: takes the pending sign-in of the browser's cookie
 * (once), checks the answer (state, code with PKCE, ID token with nonce) and maps the person's
 * groups to roles. Returns the operator, their groups (the session keeps them, so a changed
 * mapping applies at once) and where to go; throws a 400/403 ProblemError, having
 * stored nothing, otherwise.
 */
export async function finishOperatorSignIn(
  deps: OperatorSignInDeps,
  id: string | undefined,
  callbackUrl: URL,
): Promise<{ operator: Operator; groups: readonly string[]; next: string }> {
  requireRoleGroups(deps);
  const pending = id && id.length <= 128 ? await deps.store.take(id) : undefined;
  if (!pending || pending.expires_at <= nowSecOf(deps.broker))
    throw new ProblemError(400, 'Sign-in expired', 'this sign-in has expired: start again');
  if (callbackUrl.searchParams.has('error'))
    throw new ProblemError(403, 'Sign-in cancelled', 'the identity provider did not sign you in');
  if (callbackUrl.searchParams.get('state') !== pending.login.state)
    throw refused(deps, 'state_mismatch');
  const person = await deps.signIn
    .finish(callbackUrl, pending.login, deps.callbackUri)
    .catch((err: unknown) => {
      const reason = (err as { reason?: unknown }).reason;
      throw refused(deps, typeof reason === 'string' ? reason : 'sign-in failed');
    });
  const mapped = operatorOfPerson(person, deps.roleGroups);
  if ('refused' in mapped) {
    deps.broker.log.info(
      { reason: mapped.refused, sub: person.sub.slice(0, 255) },
      'console sign-in refused',
    );
    throw new ProblemError(
      403,
      'No console role',
      'none of your groups at the identity provider is mapped to a console role',
    );
  }
  return { operator: mapped.operator, groups: person.groups, next: pending.next };
}

/** A refused answer: the operator sees that sign-in failed; why goes to the log only. */
function refused(deps: Pick<OperatorSignInDeps, 'broker'>, reason: string): ProblemError {
  deps.broker.log.info({ reason }, 'console sign-in refused');
  return new ProblemError(403, 'Sign-in failed', 'the identity provider’s answer was refused');
}

function unreachable(deps: Pick<OperatorSignInDeps, 'broker'>, err: unknown): ProblemError {
  const reason = (err as { reason?: unknown }).reason;
  deps.broker.log.warn(
    { reason: typeof reason === 'string' ? reason : String(err) },
    'identity provider unavailable for console sign-in',
  );
  return new ProblemError(503, 'Identity provider unavailable', 'try again shortly');
}
