// The client behind an authorization request: a registered agent, or one known by its Client ID Metadata Document (kept as a client record).
import { type Client, ClientIdSchema } from '../domain/client.ts';
import {
  type ClientMetadataDocuments,
  isClientIdUrl,
  type MetadataClient,
} from '../domain/client-metadata.ts';
import { OAuthError } from '../domain/errors.ts';
import { type Broker, nowSecOf } from './broker.ts';

const unknownClient = () => new OAuthError('invalid_client', 'unknown or disabled client');

/**
 * The enabled agent client `clientId` names. An https client_id is resolved through its metadata
 * document (invalid_client without a resolver); with `remember` it is kept as a client record, so
 * its grants, policy principal, kill switch and decision records work like any agent's. Only a
 * request a person has signed in for remembers: an anonymous /oauth/authorize stores nothing.
 */
export async function authorizingClient(
  broker: Broker,
  clientId: string,
  documents: ClientMetadataDocuments | undefined,
  opts: { remember: boolean },
): Promise<Client> {
  if (isClientIdUrl(clientId)) {
    if (!documents)
      throw new OAuthError('invalid_client', 'client_id metadata documents are not enabled');
    return metadataClient(broker, await documents.resolve(clientId), opts.remember);
  }
  if (!ClientIdSchema.safeParse(clientId).success) throw unknownClient();
  const client = await broker.clients.get(clientId);
  if (!client || client.disabled || client.kind !== 'agent') throw unknownClient();
  return client;
}

/** The client of a metadata document, its record created or refreshed with `remember`; a disabled one stays refused. */
async function metadataClient(
  broker: Broker,
  doc: MetadataClient,
  remember: boolean,
): Promise<Client> {
  const existing = await broker.clients.get(doc.client_id);
  if (existing?.disabled || (existing && existing.kind !== 'agent')) throw unknownClient();
  const nowSec = nowSecOf(broker);
  const client: Client = {
    client_id: doc.client_id,
    name: doc.client_name ?? new URL(doc.client_id).host,
    kind: 'agent',
    // Operators may give the record groups and attributes for policy; a new document keeps them.
    groups: existing?.groups ?? [],
    attributes: existing?.attributes ?? {},
    resources: [],
    token_endpoint_auth_method: doc.token_endpoint_auth_method,
    ...(doc.jwks ? { jwks: doc.jwks as Client['jwks'] } : {}),
    ...(doc.jwks_uri ? { jwks_uri: doc.jwks_uri } : {}),
    redirect_uris: [...doc.redirect_uris],
    disabled: false,
    created_at: existing?.created_at ?? nowSec,
    updated_at: existing && sameDocument(existing, doc) ? existing.updated_at : nowSec,
  };
  if (existing && sameDocument(existing, doc)) return existing;
  if (!remember) return client;
  const stored = existing ? await broker.clients.put(client) : await broker.clients.create(client);
  // Created elsewhere meanwhile, or deleted by an operator: read what is there now.
  if (!stored) {
    const now = await broker.clients.get(doc.client_id);
    if (!now || now.disabled) throw unknownClient();
    return now;
  }
  return client;
}

function sameDocument(c: Client, doc: MetadataClient): boolean {
  return (
    c.name === (doc.client_name ?? new URL(doc.client_id).host) &&
    c.token_endpoint_auth_method === doc.token_endpoint_auth_method &&
    JSON.stringify(c.redirect_uris ?? []) === JSON.stringify(doc.redirect_uris) &&
    c.jwks_uri === doc.jwks_uri &&
    JSON.stringify(c.jwks) === JSON.stringify(doc.jwks)
  );
}
