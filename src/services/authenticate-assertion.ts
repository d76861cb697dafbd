// JWT assertions as client authentication (RFC 7523 2.2) and as a grant (RFC 7523 2.1): private_key_jwt and workload tokens.
import { type Client, ClientIdSchema } from '../domain/client.ts';
import {
  ASSERTION_ALGS,
  type AssertionRejection,
  checkClientAssertionClaims,
  checkWorkloadClaims,
  type DecodedJwt,
  decodeCompactJwt,
  isAssertionAlg,
  isIssuerUrl,
  REJECTION_DESCRIPTIONS,
} from '../domain/client-assertion.ts';
import {
  clientIdUrlProblem,
  DocumentUnreachable,
  isClientIdUrl,
  type MetadataClient,
} from '../domain/client-metadata.ts';
import { OAuthError } from '../domain/errors.ts';
import type { KeySource, PublicJwks } from '../domain/key-source.ts';
import {
  matchSubject,
  type TrustedIssuer,
  type WorkloadContext,
  workloadOf,
} from '../domain/trusted-issuer.ts';
import { type Broker, nowSecOf } from './broker.ts';

/** Who an assertion authenticated: the client, and for a workload token, the workload. */
export interface AssertedCaller {
  readonly client: Client;
  readonly workload?: WorkloadContext | undefined;
}

export interface AssertionCheck {
  /** The audiences the assertion may name: the issuer and the endpoint URLs. */
  readonly audiences: readonly string[];
  /** A `client_id` sent beside the assertion: it must be the client the assertion authenticates. */
  readonly clientId?: string | undefined;
  /** As a grant (RFC 7523 2.1): refusals are `invalid_grant`, and only workload tokens are taken. */
  readonly asGrant?: boolean;
}

/** An assertion refused: the RFC error, its reason kept apart for the log (never the assertion). */
export class AssertionRefused extends OAuthError {
  readonly reason: AssertionRejection;
  constructor(reason: AssertionRejection, asGrant: boolean) {
    super(asGrant ? 'invalid_grant' : 'invalid_client', REJECTION_DESCRIPTIONS[reason]);
    this.reason = reason;
  }
}

/**
 * Verifies a JWT assertion and returns the client it authenticates. A token whose `iss` is a URL is
 * a workload token of a trusted issuer (reusable while valid), except a Client ID Metadata
 * Document client's own assertion (`iss` = `sub` = its https client_id, an `iss` no trusted issuer
 * has); any other is a private_key_jwt assertion of the client named by `iss` = `sub` (its `jti`
 * spent once, until `exp`). Refusals
 * throw AssertionRefused (`invalid_client`, or `invalid_grant` as a grant); an unreachable store
 * throws StoreUnavailable. Nothing of the assertion is stored but a spent jti's hash.
 */
export async function authenticateAssertion(
  broker: Broker,
  assertion: string,
  check: AssertionCheck,
): Promise<AssertedCaller> {
  const asGrant = check.asGrant ?? false;
  const refuse = (reason: AssertionRejection, fields: Record<string, unknown> = {}) => {
    broker.log.info({ reason, ...fields, as_grant: asGrant }, 'assertion refused');
    return new AssertionRefused(reason, asGrant);
  };
  const jwt = decodeCompactJwt(assertion);
  if (!jwt) throw refuse('malformed');
  if (!isAssertionAlg(jwt.header.alg)) throw refuse('unsupported_alg');
  // A URL `iss` is a trusted issuer's workload token, unless it is a metadata-document client
  // signing as itself (iss = sub = its https client_id) and no trusted issuer has that `iss`.
  if (
    isIssuerUrl(jwt.payload.iss) &&
    (asGrant ||
      !isDocumentClient(jwt.payload) ||
      Boolean(await broker.trustedIssuers.byIssuer(jwt.payload.iss as string)))
  )
    return workloadCaller(broker, assertion, jwt, check, refuse);
  if (asGrant) throw refuse('unknown_issuer');
  return keyHolder(broker, assertion, jwt, check, refuse);
}

/**
 * A client known by its metadata document signs as itself: `iss` = `sub` = its https client_id.
 * A trusted issuer's token names a subject other than the issuer, so the two do not meet.
 */
function isDocumentClient(payload: DecodedJwt['payload']): boolean {
  const { iss } = payload;
  return typeof iss === 'string' && isClientIdUrl(iss) && payload.sub === iss;
}

type Refuse = (reason: AssertionRejection, fields?: Record<string, unknown>) => AssertionRefused;

/**
 * A private_key_jwt client's own assertion: a registered client's, or one known by its metadata
 * document (see documentKeys).
 */
async function keyHolder(
  broker: Broker,
  assertion: string,
  { payload }: DecodedJwt,
  check: AssertionCheck,
  refuse: Refuse,
): Promise<AssertedCaller> {
  const byDocument = isDocumentClient(payload);
  const clientId = byDocument
    ? clientIdUrlProblem(payload.iss as string) === undefined
      ? (payload.iss as string)
      : undefined
    : ClientIdSchema.safeParse(payload.iss).data;
  if (clientId === undefined) throw refuse('unknown_client');
  const client = await broker.clients.get(clientId);
  if (
    !client ||
    (byDocument ? client.kind !== 'agent' : client.token_endpoint_auth_method !== 'private_key_jwt')
  )
    throw refuse('unknown_client', { client_id: clientId });
  if (check.clientId !== undefined && check.clientId !== clientId)
    throw refuse('client_mismatch', { client_id: clientId });
  const nowSec = nowSecOf(broker);
  const claims = checkClientAssertionClaims(payload, {
    clientId,
    audiences: check.audiences,
    nowSec,
    toleranceSec: broker.settings.clockToleranceSec,
  });
  if (!claims.ok) throw refuse(claims.reason, { client_id: clientId });
  const keys: KeySource | undefined = byDocument
    ? await documentKeys(broker, clientId, refuse)
    : client.jwks
      ? { jwks: client.jwks }
      : client.jwks_uri
        ? { jwks_uri: client.jwks_uri }
        : undefined;
  await verifySignature(broker, assertion, keys, refuse, { client_id: clientId });
  if (client.disabled) throw refuse('client_disabled', { client_id: clientId });
  // Spent only once its signature holds, so nobody can burn another client's jtis.
  const untilSec = claims.value.exp + broker.settings.clockToleranceSec;
  if (
    !(await broker.oneTimeUses.claim(
      'client_assertion',
      `${clientId} ${claims.value.jti}`,
      untilSec,
    ))
  )
    throw refuse('replayed', { client_id: clientId });
  return { client };
}

/**
 * The keys of a client known by its metadata document, from the document as it is now (fetched or
 * cached under the fetcher's guards; a jwks_uri comes back fetched the same way as `jwks`). Its
 * client record, kept since a person signed in for it, must exist (checked before any fetch, so
 * an unknown URL costs nothing); the document must still say private_key_jwt. A document that
 * cannot be used is `unknown_client`; one that could not be had just now (a timeout, a failed
 * connection, a 5xx, too many fetches at once) is temporarily_unavailable, not a failed credential.
 */
async function documentKeys(
  broker: Broker,
  clientId: string,
  refuse: Refuse,
): Promise<KeySource | undefined> {
  let doc: MetadataClient;
  try {
    doc = await broker.clientMetadata.resolve(clientId);
  } catch (err) {
    // The client's host is down or slow: not a bad credential (nothing counted), try again.
    if (err instanceof DocumentUnreachable)
      throw new OAuthError(
        'temporarily_unavailable',
        'the client metadata document could not be fetched just now; try again shortly',
      );
    if (err instanceof OAuthError && err.code === 'invalid_client')
      throw refuse('unknown_client', { client_id: clientId, document: err.message });
    throw err;
  }
  if (doc.token_endpoint_auth_method !== 'private_key_jwt')
    throw refuse('unknown_client', { client_id: clientId, document: 'not private_key_jwt' });
  return doc.jwks ? { jwks: doc.jwks as PublicJwks } : undefined;
}

/** A trusted issuer's token, verified: its entry, its `sub`, its claims. */
export interface IssuerToken {
  readonly entry: TrustedIssuer;
  readonly subject: string;
  readonly payload: Readonly<Record<string, unknown>>;
}

/**
 * Verifies a JWT of a trusted issuer (a person's token for token exchange, an ID-JAG): issuer
 * registered, `aud` naming `audience` (default the entry's), `exp` not passed, a `sub`, then its
 * signature. Refusals are AssertionRefused as `invalid_grant`, logged with their reason only.
 */
export async function verifyIssuerToken(
  broker: Broker,
  token: string,
  opts: { audience?: string; what: string },
): Promise<IssuerToken> {
  const refuse: Refuse = (reason, fields = {}) => {
    broker.log.info({ reason, ...fields, token: opts.what }, 'issuer token refused');
    return new AssertionRefused(reason, true);
  };
  const jwt = decodeCompactJwt(token);
  if (!jwt) throw refuse('malformed');
  if (!isAssertionAlg(jwt.header.alg)) throw refuse('unsupported_alg');
  if (!isIssuerUrl(jwt.payload.iss)) throw refuse('unknown_issuer');
  return issuerToken(broker, token, jwt, opts.audience, refuse);
}

async function issuerToken(
  broker: Broker,
  token: string,
  { payload }: DecodedJwt,
  audience: string | undefined,
  refuse: Refuse,
): Promise<IssuerToken> {
  const entry = await broker.trustedIssuers.byIssuer(payload.iss as string);
  if (!entry) throw refuse('unknown_issuer');
  const claims = checkWorkloadClaims(payload, {
    issuer: entry.issuer,
    audience: audience ?? entry.audience,
    nowSec: nowSecOf(broker),
    toleranceSec: broker.settings.clockToleranceSec,
  });
  if (!claims.ok) throw refuse(claims.reason, { trusted_issuer: entry.id });
  const keys: KeySource = entry.jwks
    ? { jwks: entry.jwks }
    : { jwks_uri: entry.jwks_uri as string };
  await verifySignature(broker, token, keys, refuse, { trusted_issuer: entry.id });
  return { entry, subject: claims.value.subject, payload };
}

/** A workload token of a trusted issuer, mapped to an agent by the issuer's subject_map. */
async function workloadCaller(
  broker: Broker,
  assertion: string,
  jwt: DecodedJwt,
  check: AssertionCheck,
  refuse: Refuse,
): Promise<AssertedCaller> {
  const { entry, subject, payload } = await issuerToken(broker, assertion, jwt, undefined, refuse);
  const clientId = matchSubject(entry.subject_map ?? [], payload);
  if (!clientId) throw refuse('no_subject_match', { trusted_issuer: entry.id });
  if (check.clientId !== undefined && check.clientId !== clientId)
    throw refuse('client_mismatch', { trusted_issuer: entry.id, client_id: clientId });
  const client = await broker.clients.get(clientId);
  if (client?.kind !== 'agent')
    throw refuse('unknown_client', { trusted_issuer: entry.id, client_id: clientId });
  if (client.disabled) throw refuse('client_disabled', { client_id: clientId });
  return { client, workload: workloadOf(entry, subject, payload) };
}

async function verifySignature(
  broker: Broker,
  assertion: string,
  keys: KeySource | undefined,
  refuse: Refuse,
  fields: Record<string, unknown>,
): Promise<void> {
  const outcome = keys
    ? await broker.assertionKeys.verify(assertion, keys, ASSERTION_ALGS)
    : 'no_keys';
  if (outcome === 'verified') return;
  if (outcome === 'no_keys' && keys?.jwks_uri)
    broker.log.warn({ ...fields, jwks_uri: keys.jwks_uri }, 'no usable key from the jwks_uri');
  throw refuse(outcome === 'no_keys' ? 'no_keys' : 'bad_signature', fields);
}
