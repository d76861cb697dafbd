// Reads client credentials from HTTP Basic (RFC 6749 2.3.1) or the form body, never both.
import type { Context } from 'hono';
import type { Client } from '../domain/client.ts';
import { OAuthError } from '../domain/errors.ts';
import { authenticateClient, type PresentedCredentials } from '../services/authenticate-client.ts';
import type { Broker } from '../services/broker.ts';
import { readBasicCredentials } from './basic-credentials.ts';
import { noteAuthenticated } from './rate-limit.ts';
import type { OAuthForm } from './read-body.ts';

const MAX_CREDENTIAL_LENGTH = 512;

export function presentedCredentials(c: Context, form: OAuthForm): PresentedCredentials {
  const header = c.req.header('authorization');
  const bodyId = form.get('client_id');
  const bodySecret = form.get('client_secret');
  if (header !== undefined) {
    if (bodySecret !== undefined)
      throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    const basic = readBasicCredentials(header);
    if (basic === 'not_basic')
      throw new OAuthError('invalid_client', 'unsupported or malformed Authorization header');
    if (basic === 'malformed')
      throw new OAuthError('invalid_client', 'malformed Basic credentials');
    const { clientId, secret } = basic;
    if (bodyId !== undefined && bodyId !== clientId)
      throw new OAuthError('invalid_request', 'client_id does not match the authenticated client');
    return checkLength({ clientId, secret, method: 'client_secret_basic' });
  }
  if (bodyId !== undefined && bodySecret !== undefined)
    return checkLength({ clientId: bodyId, secret: bodySecret, method: 'client_secret_post' });
  throw new OAuthError('invalid_client', 'client authentication is required');
}

/** Authenticates the caller of an OAuth endpoint. */
export function authenticate(c: Context, form: OAuthForm, broker: Broker): Promise<Client> {
  return verify(c, broker, presentedCredentials(c, form));
}

/** Verifies the credentials and tells the rate limit they succeeded (it then lets them through a blocked source). */
async function verify(c: Context, broker: Broker, creds: PresentedCredentials): Promise<Client> {
  const client = await authenticateClient(broker, creds);
  noteAuthenticated(c, { kind: 'client', clientId: creds.clientId, secret: creds.secret });
  return client;
}

function checkLength(creds: PresentedCredentials): PresentedCredentials {
  if (
    !creds.clientId ||
    creds.clientId.length > MAX_CREDENTIAL_LENGTH ||
    creds.secret.length > MAX_CREDENTIAL_LENGTH
  ) {
    throw new OAuthError('invalid_client', 'client authentication failed');
  }
  return creds;
}

/** The form of a JSON request: it carries no credentials. */
const NO_FORM: OAuthForm = { get: () => undefined, all: () => [] };

/** Authenticates a client by HTTP Basic alone (JSON endpoints have no form body to carry credentials). */
export function authenticateBasic(c: Context, broker: Broker): Promise<Client> {
  return verify(c, broker, presentedCredentials(c, NO_FORM));
}
