// The claims a resource guard hands its application once a Mandate access token verified.
import type { JWTPayload } from 'jose';
import type { GrantedTask } from './mandate-client.ts';

/** The verified access token claims (RFC 9068 with Mandate's `grant_id`). */
export interface MandateClaims extends JWTPayload {
  readonly client_id?: string;
  readonly grant_id?: string;
  readonly authorization_details?: readonly GrantedTask[];
  readonly cnf?: { readonly jkt?: string };
  readonly act?: Record<string, unknown>;
}
