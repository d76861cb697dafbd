// Client authentication: a secret compared in constant time against its stored hash.

import { hash, timingSafeEqual } from 'node:crypto';
import { randomBase64url } from '../crypto/random-id.ts';
import type { Client } from '../domain/client.ts';
import { OAuthError } from '../domain/errors.ts';
import type { Broker } from './broker.ts';

export type AuthMethodUsed = 'client_secret_basic' | 'client_secret_post';

export interface PresentedCredentials {
  readonly clientId: string;
  readonly secret: string;
  readonly method: AuthMethodUsed;
}

/** `sha256:<base64url>`: secrets are 256 random bits, so a fast hash does not weaken them. */
export function hashSecret(secret: string): string {
  return `sha256:${hash('sha256', secret, 'base64url')}`;
}

/** A new client secret: 256 bits from the CSPRNG. */
export function generateSecret(): string {
  return randomBase64url(32);
}

const DUMMY_HASH = hashSecret(generateSecret());

/** Returns the authenticated, enabled client, or throws 401 invalid_client. */
export async function authenticateClient(
  broker: Pick<Broker, 'clients'>,
  creds: PresentedCredentials,
): Promise<Client> {
  const client = await broker.clients.get(creds.clientId);
  // Compare even for unknown clients, so timing does not tell which ids exist.
  const expected = Buffer.from(client?.secret_hash ?? DUMMY_HASH);
  const presented = Buffer.from(hashSecret(creds.secret));
  const match = expected.length === presented.length && timingSafeEqual(expected, presented);
  if (!client || !match || !client.secret_hash)
    throw new OAuthError('invalid_client', 'client authentication failed');
  if (client.disabled) throw new OAuthError('invalid_client', 'client authentication failed');
  if (client.token_endpoint_auth_method === 'private_key_jwt')
    throw new OAuthError('invalid_client', 'client must authenticate with private_key_jwt');
  return client;
}

/**
 * A public client (RFC 6749 2.1, `token_endpoint_auth_method: none`) names itself with `client_id`
 * only; it must be registered as public and enabled, else 401 invalid_client.
 */
export async function authenticatePublicClient(
  broker: Pick<Broker, 'clients'>,
  clientId: string,
): Promise<Client> {
  const client = clientId.length <= 2048 ? await broker.clients.get(clientId) : undefined;
  if (!client || client.disabled || client.token_endpoint_auth_method !== 'none')
    throw new OAuthError('invalid_client', 'client authentication failed');
  return client;
}
