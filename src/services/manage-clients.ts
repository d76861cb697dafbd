// Admin use-cases for clients: register with a generated secret, change, disable (kill switch), delete.
import { randomBase64url } from '../crypto/random-id.ts';
import {
  authSettingsProblem,
  type Client,
  type ClientInput,
  type ClientPatch,
  publicClient,
} from '../domain/client.ts';
import { ProblemError } from '../domain/errors.ts';
import { MAX_GRANT_TTL_SEC } from '../domain/intent.ts';
import { jwksUriProblem } from '../domain/key-source.ts';
import { canonicalResources } from '../domain/resource-uri.ts';
import type { ClientCreated, ClientDeleted, ClientUpdated } from '../domain/wire/admin.ts';
import { generateSecret, hashSecret } from './authenticate-client.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { revokeByAdmin } from './revoke.ts';

/**
 * How long a deleted client's tombstone refuses new grants: longer than any grant it held could
 * live (with a margin for clocks), so no mint that authenticated before the delete can land after.
 */
const DELETED_MARK_TTL_SEC = MAX_GRANT_TTL_SEC + 3600;

/** Secret clients get a generated secret; private_key_jwt and public (`none`) clients have none. */
const hasSecret = (method: Client['token_endpoint_auth_method']) =>
  method === 'client_secret_basic' || method === 'client_secret_post';

function checkShape(
  c: Pick<
    Client,
    | 'kind'
    | 'resources'
    | 'actions'
    | 'token_endpoint_auth_method'
    | 'jwks'
    | 'jwks_uri'
    | 'secret_hash'
    | 'redirect_uris'
  >,
  allowHttpLoopback: boolean,
): void {
  if (c.kind !== 'resource' && c.actions?.length)
    throw new ProblemError(400, 'Invalid client', 'actions: only resource clients serve actions', [
      { path: 'actions', message: 'for kind resource only' },
    ]);
  if (c.kind === 'resource' && c.resources.length === 0) {
    throw new ProblemError(
      400,
      'Invalid client',
      'a resource client must list the resources it serves',
      [{ path: 'resources', message: 'required for kind resource' }],
    );
  }
  const auth = authSettingsProblem(c);
  if (auth) throw new ProblemError(400, 'Invalid client', `${auth.path}: ${auth.message}`, [auth]);
  const uriProblem = c.jwks_uri ? jwksUriProblem(c.jwks_uri, allowHttpLoopback) : undefined;
  if (uriProblem)
    throw new ProblemError(400, 'Invalid client', `jwks_uri: ${uriProblem}`, [
      { path: 'jwks_uri', message: uriProblem },
    ]);
}

/**
 * Registers a client; the secret is returned once and only its hash is kept. A private_key_jwt
 * client gets no secret at all: it proves itself with its keys.
 */
export async function createClient(
  broker: Broker,
  input: ClientInput,
  by: string,
): Promise<ClientCreated> {
  const now = nowSecOf(broker);
  const secret = hasSecret(input.token_endpoint_auth_method) ? generateSecret() : undefined;
  const client: Client = {
    client_id: input.client_id ?? `${input.kind}-${randomBase64url(9)}`,
    name: input.name,
    kind: input.kind,
    groups: input.groups,
    attributes: input.attributes,
    resources: canonicalResources(input.resources),
    ...(input.actions?.length ? { actions: input.actions } : {}),
    token_endpoint_auth_method: input.token_endpoint_auth_method,
    jwks: input.jwks,
    jwks_uri: input.jwks_uri,
    max_token_ttl: input.max_token_ttl,
    max_grant_ttl: input.max_grant_ttl,
    ...(input.dpop_bound_access_tokens ? { dpop_bound_access_tokens: true } : {}),
    ...(input.redirect_uris?.length ? { redirect_uris: input.redirect_uris } : {}),
    disabled: false,
    created_at: now,
    updated_at: now,
    secret_hash: secret === undefined ? undefined : hashSecret(secret),
  };
  checkShape(client, broker.settings.jwksAllowHttpLoopback);
  if (!(await broker.clients.create(client)))
    throw new ProblemError(409, 'Client exists', `client_id ${client.client_id} is taken`);
  broker.policy.noteActions(client.client_id, client.actions);
  await broker.decisions.record({
    kind: 'client',
    outcome: 'created',
    reasons: [],
    client_id: client.client_id,
    inputs: { by, client: publicClient(client) },
  });
  return {
    client: publicClient(client),
    ...(secret === undefined ? {} : { client_secret: secret }),
  };
}

export async function getClient(broker: Broker, id: string): Promise<Client> {
  const client = await broker.clients.get(id);
  if (!client) throw new ProblemError(404, 'Client not found', `no client ${id}`);
  return client;
}

/**
 * Changes a client. Disabling it is the kill switch: the record and its disabled mark land first
 * (atomically), so from then on no process creates a grant or an approval for it, whatever it has
 * cached; only then is every grant it holds revoked, and that revocation sees every grant created
 * before the mark. When this returns, every process answers inactive for its tokens. Sending
 * `disabled: true` again finishes a revocation an earlier call could not.
 */
export async function updateClient(
  broker: Broker,
  id: string,
  patch: ClientPatch,
  by: string,
): Promise<ClientUpdated> {
  const current = await getClient(broker, id);
  const changes = stripUndefined(patch);
  if (changes.resources) changes.resources = canonicalResources(changes.resources);
  const merged = { ...current, ...changes, updated_at: nowSecOf(broker) } as Client;
  // A client moving to private_key_jwt has no secret any more; one moving off it has none to use.
  const next: Client = hasSecret(merged.token_endpoint_auth_method)
    ? merged
    : { ...merged, secret_hash: undefined };
  if (hasSecret(next.token_endpoint_auth_method) && !next.secret_hash)
    throw new ProblemError(
      400,
      'Invalid client',
      'token_endpoint_auth_method: this client has no secret; register a new client instead',
      [{ path: 'token_endpoint_auth_method', message: 'the client has no secret' }],
    );
  checkShape(next, broker.settings.jwksAllowHttpLoopback);
  checkActionsInUse(broker, id, next.actions ?? []);
  if (!(await broker.clients.put(next)))
    throw new ProblemError(404, 'Client not found', `no client ${id}`);
  broker.policy.noteActions(id, next.actions);
  let revoked = { grants: 0, tokens: 0 };
  if (next.disabled && (!current.disabled || patch.disabled === true))
    revoked = (await revokeByAdmin(broker, { client_id: id }, 'client_disabled', by)).revoked;
  await broker.decisions.record({
    kind: 'client',
    outcome: 'updated',
    reasons: next.disabled ? ['client_disabled'] : [],
    client_id: id,
    inputs: { by, patch, revoked },
  });
  return { client: publicClient(next), revoked };
}

/**
 * Deletes a client: marks it deleted first (a tombstone outliving its grants, so no process creates
 * one for it any more), then revokes every grant it holds, then removes its record.
 */
export async function deleteClient(broker: Broker, id: string, by: string): Promise<ClientDeleted> {
  const current = await getClient(broker, id);
  if (current.actions?.length) checkActionsInUse(broker, id, []);
  await broker.clients.markDeleted(id, DELETED_MARK_TTL_SEC);
  const { revoked } = await revokeByAdmin(broker, { client_id: id }, 'client_deleted', by);
  await broker.clients.delete(id);
  broker.policy.noteActions(id, undefined);
  await broker.decisions.record({
    kind: 'client',
    outcome: 'deleted',
    reasons: ['client_deleted'],
    client_id: id,
    inputs: { by, revoked },
  });
  return { revoked };
}

/**
 * Refuses (409) a change of a client's registered actions that the policy set in force could not
 * survive: an action it names would leave the schema. Change the policy first, then the client.
 */
function checkActionsInUse(broker: Broker, id: string, actions: readonly string[]): void {
  const problems = broker.policy.actionsProblems(id, actions);
  if (problems.length)
    throw new ProblemError(
      409,
      'Actions in use',
      `actions: the policy set in force names an action this change removes (${problems[0]?.message})`,
      [{ path: 'actions', message: 'named by the policy set in force' }],
    );
}

/** Creates or updates the clients listed in the config file (their secret given as hash or in clear). */
export async function seedClients(
  broker: Broker,
  clients: ReadonlyArray<
    ClientInput & {
      client_id: string;
      client_secret?: string | undefined;
      client_secret_hash?: string | undefined;
    }
  >,
): Promise<void> {
  const now = nowSecOf(broker);
  for (const c of clients) {
    const existing = await broker.clients.get(c.client_id);
    const { client_secret, client_secret_hash, ...rest } = c;
    const client: Client = {
      ...rest,
      resources: canonicalResources(rest.resources),
      disabled: existing?.disabled ?? false,
      created_at: existing?.created_at ?? now,
      updated_at: now,
      secret_hash: client_secret_hash ?? (client_secret ? hashSecret(client_secret) : undefined),
    };
    // The config file is authoritative: a client it lists exists again even if the API deleted it.
    await broker.clients.put(client, { revive: true });
    broker.policy.noteActions(client.client_id, client.actions);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
