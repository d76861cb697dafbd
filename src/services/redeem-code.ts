// grant_type=authorization_code: a single-use code, bound to its client, redirect, PKCE challenge and resources, becomes a grant for the person.
import { hash } from 'node:crypto';
import type { AuthorizationStore } from '../domain/authorization-store.ts';
import type { Client } from '../domain/client.ts';
import type { DpopProofFacts } from '../domain/dpop.ts';
import { OAuthError } from '../domain/errors.ts';
import { canonicalResources } from '../domain/resource-uri.ts';
import type { TokenResponse } from '../domain/wire/oauth.ts';
import { codeDelegation } from './authorize.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { mintToken } from './mint-token.ts';
import { revokeByAdmin } from './revoke.ts';

export interface CodeRequest {
  readonly code: string | undefined;
  readonly redirectUri: string | undefined;
  readonly codeVerifier: string | undefined;
  /** RFC 8707 at the token endpoint: each must be among the code's resources (none: all of them). */
  readonly resources: readonly string[];
  readonly ip: string | undefined;
  readonly dpop?: DpopProofFacts | undefined;
}

const badCode = () =>
  new OAuthError('invalid_grant', 'code is invalid, expired, used, or not issued to this client');

/**
 * Redeems a code: every binding must hold (client, exact redirect_uri, the PKCE verifier's S256
 * digest, resources) before the code is marked used, in one atomic step, so it works once and only
 * for its client: a refusal is invalid_grant (invalid_target for a foreign resource), issues
 * nothing and leaves the code to its rightful client (RFC 6749 4.1.3). The grant is minted as the
 * code's person approved it, re-decided by policy now (it may come back narrower). A code
 * presented again by its bound client revokes the grant its first use issued.
 */
export async function redeemCode(
  broker: Broker,
  store: AuthorizationStore,
  client: Client,
  req: CodeRequest,
): Promise<TokenResponse> {
  if (!req.code || req.code.length > 256)
    throw new OAuthError('invalid_request', 'code is required');
  if (!req.redirectUri) throw new OAuthError('invalid_request', 'redirect_uri is required');
  if (!req.codeVerifier)
    throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(req.codeVerifier))
    throw new OAuthError(
      'invalid_request',
      'code_verifier must be 43 to 128 unreserved characters',
    );
  const asked = canonicalResources(req.resources);
  const found = await store.redeemCode(req.code, {
    clientId: client.client_id,
    redirectUri: req.redirectUri,
    codeChallenge: hash('sha256', req.codeVerifier, 'base64url'),
    resources: asked,
    nowSec: nowSecOf(broker),
  });
  if (found.status === 'replayed') {
    if (found.grantId) await revokeReplayed(broker, found.grantId);
    throw badCode();
  }
  if (found.status === 'foreign')
    throw new OAuthError('invalid_target', 'resource is not one the code was issued for');
  if (found.status !== 'first') throw badCode();
  const { code } = found;
  const resources = asked.length ? asked : code.resources;
  const response = await mintToken(broker, client, {
    authorizationDetails: JSON.stringify(
      code.granted
        .map((e) => ({ ...e, locations: e.locations.filter((l) => resources.includes(l)) }))
        .filter((e) => e.locations.length),
    ),
    resources: [],
    scope: undefined,
    ip: req.ip,
    dpop: req.dpop,
    delegated: codeDelegation(client, code.person),
  });
  // A replay that raced this first use could not see the grant yet: it is revoked now.
  if (response.grant_id && (await store.noteCodeGrant(req.code, response.grant_id))) {
    await revokeReplayed(broker, response.grant_id);
    throw badCode();
  }
  return response;
}

async function revokeReplayed(broker: Broker, grantId: string): Promise<void> {
  try {
    await revokeByAdmin(broker, { grant_id: grantId }, 'authorization_code_replayed', 'mandate');
  } catch (err) {
    // A grant already gone has nothing left to revoke.
    if (!(err instanceof Error && 'status' in err && err.status === 404)) throw err;
  }
}
