// Ports of the authorization code grant: pending requests and codes (Redis), and the person's sign-in upstream (an OpenID Provider).
import type {
  AuthorizationCode,
  CodePresentation,
  CodeRedemption,
  PendingAuthorization,
  SignedInPerson,
} from './authorization-request.ts';

/** Pending authorization requests and issued codes, each under the digest of its secret id. */
export interface AuthorizationStore {
  /** Stores a pending request under `id` (kept as a digest) until its `expires_at`. */
  putPending(id: string, pending: PendingAuthorization, ttlSec: number): Promise<void>;
  getPending(id: string): Promise<PendingAuthorization | undefined>;
  /** Replaces a pending request only while it exists (its lifetime unchanged); false when it is gone. */
  updatePending(id: string, pending: PendingAuthorization): Promise<boolean>;
  /** Removes a pending request and returns it, once: a consent answer is used once. */
  takePending(id: string): Promise<PendingAuthorization | undefined>;
  /** Stores a new code (kept as a digest) for `ttlSec`. */
  putCode(code: string, value: AuthorizationCode, ttlSec: number): Promise<void>;
  /**
   * Compares the presentation with the code's binding and, only when it holds, marks the code
   * used, atomically: the first bound call gets it; a later bound call (while the mark lives)
   * learns it was replayed and which grant the first use issued, if already known. A presentation
   * that does not hold changes nothing.
   */
  redeemCode(code: string, presented: CodePresentation): Promise<CodeRedemption>;
  /** Notes the grant the code's first use issued; true when the code was replayed meanwhile (so revoke it). */
  noteCodeGrant(code: string, grantId: string): Promise<boolean>;
}

/** Where Mandate, as the relying party of the configured OpenID Provider, sends the person to sign in. */
export interface PersonSignIn {
  /** The upstream authorization URL for this state, nonce and PKCE verifier, back to `redirectUri`. */
  authorizationUrl(
    login: { state: string; nonce: string; verifier: string },
    redirectUri: string,
  ): Promise<string>;
  /**
   * Checks the callback (state, iss), redeems its code with the verifier, and checks the ID token
   * (signature, iss, aud, exp, nonce); throws OAuthError('access_denied', ...) when sign-in failed.
   */
  finish(
    callbackUrl: URL,
    login: { state: string; nonce: string; verifier: string },
    redirectUri: string,
  ): Promise<SignedInPerson>;
}
