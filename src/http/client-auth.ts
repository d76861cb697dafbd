// Reads client credentials (HTTP Basic, client_secret_post, or a JWT client assertion: one of them) and has them verified.
import type { Context } from 'hono';
import type { Client } from '../domain/client.ts';
import { CLIENT_ASSERTION_TYPE, MAX_ASSERTION_LENGTH } from '../domain/client-assertion.ts';
import { OAuthError } from '../domain/errors.ts';
import {
  type AssertedCaller,
  AssertionRefused,
  authenticateAssertion,
} from '../services/authenticate-assertion.ts';
import {
  authenticateClient,
  authenticatePublicClient,
  type PresentedCredentials,
} from '../services/authenticate-client.ts';
import type { Broker } from '../services/broker.ts';
import { authenticateCallerToken } from '../services/caller-token.ts';
import { readBasicCredentials } from './basic-credentials.ts';
import { noteAuthenticated, noteCredentialRefused } from './rate-limit.ts';
import type { OAuthForm } from './read-body.ts';

const MAX_CREDENTIAL_LENGTH = 512;

/** A JWT client assertion (RFC 7523 2.2): private_key_jwt, or a workload token of a trusted issuer. */
export interface PresentedAssertion {
  readonly method: 'private_key_jwt';
  readonly assertion: string;
  /** `client_id` sent beside it, if any: it must be the client the assertion authenticates. */
  readonly clientId: string | undefined;
}

/** A public client (`token_endpoint_auth_method: none`): its client_id and nothing else. */
export interface PresentedPublicClient {
  readonly method: 'none';
  readonly clientId: string;
}

/** The client credentials a form request presents, read and shape-checked, not verified. */
export function presentedCredentials(
  c: Context,
  form: OAuthForm,
  opts: { allowPublic?: boolean } = {},
): PresentedCredentials | PresentedAssertion | PresentedPublicClient {
  const header = c.req.header('authorization');
  const bodyId = form.get('client_id');
  const bodySecret = form.get('client_secret');
  const assertionType = form.get('client_assertion_type');
  const assertion = form.get('client_assertion');
  if (assertionType !== undefined || assertion !== undefined) {
    if (header !== undefined || bodySecret !== undefined)
      throw new OAuthError('invalid_request', 'use one client authentication method, not two');
    if (assertionType !== CLIENT_ASSERTION_TYPE)
      throw new OAuthError('invalid_client', 'unsupported client_assertion_type');
    if (!assertion) throw new OAuthError('invalid_request', 'client_assertion is required');
    if (assertion.length > MAX_ASSERTION_LENGTH)
      throw new OAuthError('invalid_client', 'client_assertion is too long');
    return { method: 'private_key_jwt', assertion, clientId: bodyId };
  }
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
  if (opts.allowPublic && bodyId) return { method: 'none', clientId: bodyId };
  throw new OAuthError('invalid_client', 'client authentication is required');
}

/** True when the form request carries any client credential (a jwt-bearer grant may come without). */
export function hasClientCredentials(c: Context, form: OAuthForm): boolean {
  return (
    c.req.header('authorization') !== undefined ||
    form.get('client_secret') !== undefined ||
    form.get('client_assertion') !== undefined ||
    form.get('client_assertion_type') !== undefined
  );
}

/** The audiences a client assertion sent to this request may name: the issuer, this endpoint, the token endpoint. */
export function assertionAudiences(c: Context, broker: Broker): string[] {
  const { issuer } = broker.settings;
  return [issuer, `${issuer}${new URL(c.req.url).pathname}`, `${issuer}/oauth/token`];
}

/**
 * Authenticates the caller of an OAuth endpoint; a workload token's caller carries its workload.
 * With `allowPublic` (the token endpoint's code and refresh grants), a public client may name
 * itself with client_id alone.
 */
export async function authenticateCaller(
  c: Context,
  form: OAuthForm,
  broker: Broker,
  opts: { allowPublic?: boolean } = {},
): Promise<AssertedCaller> {
  const creds = presentedCredentials(c, form, opts);
  if (creds.method === 'none')
    return { client: await authenticatePublicClient(broker, creds.clientId) };
  if (creds.method !== 'private_key_jwt') return { client: await verify(c, broker, creds) };
  const caller = await refusalsCounted(c, () =>
    authenticateAssertion(broker, creds.assertion, {
      audiences: assertionAudiences(c, broker),
      clientId: creds.clientId,
    }),
  );
  noteAuthenticated(c, {
    kind: 'client',
    clientId: caller.client.client_id,
    secret: creds.assertion,
  });
  return caller;
}

/** Authenticates the caller of an OAuth endpoint (`allowPublic`: a public client may name itself). */
export async function authenticate(
  c: Context,
  form: OAuthForm,
  broker: Broker,
  opts: { allowPublic?: boolean } = {},
): Promise<Client> {
  return (await authenticateCaller(c, form, broker, opts)).client;
}

/**
 * Runs an assertion check; a refusal is told to the rate limit as a failed authentication (a
 * jwt-bearer grant's refusal is a 400, which it would not count by itself).
 */
export async function refusalsCounted<T>(c: Context, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (err instanceof AssertionRefused) noteCredentialRefused(c);
    throw err;
  }
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

/** A caller token (`Authorization: Bearer <JWT>`): three base64url segments. */
const CALLER_TOKEN = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/;

/** True when the request presents a caller token rather than an opaque admin token. */
export function presentsCallerToken(c: Context): boolean {
  return CALLER_TOKEN.test(c.req.header('authorization') ?? '');
}

/**
 * Authenticates the client calling a JSON endpoint (AuthZEN, signals): HTTP Basic, or a caller
 * token it obtained for itself with client_credentials (`resource` = Mandate's issuer).
 */
export async function authenticateJsonCaller(c: Context, broker: Broker): Promise<Client> {
  const bearer = CALLER_TOKEN.exec(c.req.header('authorization') ?? '')?.[1];
  if (bearer === undefined) return verify(c, broker, presentedBasic(c));
  const client = await authenticateCallerToken(broker, bearer);
  noteAuthenticated(c, { kind: 'admin', token: bearer });
  return client;
}

function presentedBasic(c: Context): PresentedCredentials {
  const creds = presentedCredentials(c, NO_FORM);
  if (creds.method !== 'client_secret_basic' && creds.method !== 'client_secret_post')
    throw new OAuthError('invalid_client', 'client authentication is required');
  return creds;
}
