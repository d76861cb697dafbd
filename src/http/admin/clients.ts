// /admin/clients: register, list, show, change (disable = kill switch) and delete clients.
import { z } from 'zod';
import {
  AnyClientIdSchema,
  ClientInputSchema,
  ClientPatchSchema,
  publicClient,
} from '../../domain/client.ts';
import {
  ClientCreatedSchema,
  ClientDeletedSchema,
  ClientUpdatedSchema,
  PublicClientSchema,
} from '../../domain/wire/admin.ts';
import {
  createClient,
  deleteClient,
  getClient,
  updateClient,
} from '../../services/manage-clients.ts';
import type { HttpDeps } from '../http-deps.ts';
import {
  ADMIN_BODY_ERRORS,
  jsonReply,
  pathParameter,
  problemReply,
  requestBody,
} from '../openapi.ts';
import { readJson, readPathId } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

// A Client ID Metadata Document client's record is addressed by its URL (percent-encoded in the path).
const clientId = (raw: string) => readPathId(AnyClientIdSchema, raw, 'Client');

const CLIENT_EXAMPLE = {
  client_id: 'agent-1',
  name: 'Invoice summariser',
  kind: 'agent' as const,
  groups: ['finance'],
  attributes: { team: 'finance' },
  resources: [],
  token_endpoint_auth_method: 'client_secret_basic',
  disabled: false,
  created_at: 1767225600,
  updated_at: 1767225600,
};
const REVOKED_EXAMPLE = { grants: 2, tokens: 3 };
const CLIENT_ID = pathParameter('id', 'client_id');
const TAGS = ['Admin: clients'];

const createClientRoute = adminRoute('clients:write', {
  method: 'post',
  path: '/clients',
  tags: TAGS,
  summary: 'Register a client',
  description:
    'An agent or a resource server. The generated `client_secret` is returned once; only its hash is kept. A `private_key_jwt` client registers its public keys (`jwks` inline, or `jwks_uri`: https) instead and gets no secret at all.',
  responses: {
    201: jsonReply('created', ClientCreatedSchema, {
      client: CLIENT_EXAMPLE,
      client_secret: 'cs_Jq8vTz2WmR5xK0pLb7nY3dHf',
    }),
    ...ADMIN_BODY_ERRORS,
    409: problemReply('the client_id is taken'),
  },
});

const listClientsRoute = adminRoute('clients:read', {
  method: 'get',
  path: '/clients',
  tags: TAGS,
  summary: 'List clients',
  description: 'Every registered client (never a secret hash).',
  responses: {
    200: jsonReply(
      'the clients',
      z.object({ clients: z.array(PublicClientSchema) }).meta({ id: 'ClientList' }),
      { clients: [CLIENT_EXAMPLE] },
    ),
  },
});

const showClientRoute = adminRoute('clients:read', {
  method: 'get',
  path: '/clients/{id}',
  tags: TAGS,
  summary: 'Show a client',
  description: 'One client.',
  parameters: [CLIENT_ID],
  responses: {
    200: jsonReply('the client', PublicClientSchema, CLIENT_EXAMPLE),
    404: problemReply('no such client'),
  },
});

const updateClientRoute = adminRoute('clients:write', {
  method: 'patch',
  path: '/clients/{id}',
  tags: TAGS,
  summary: 'Change a client',
  description:
    'Any field but the id and kind. `{"disabled": true}` is the kill switch: every live grant of a disabled agent is revoked.',
  parameters: [CLIENT_ID],
  responses: {
    200: jsonReply('changed', ClientUpdatedSchema, {
      client: { ...CLIENT_EXAMPLE, disabled: true },
      revoked: REVOKED_EXAMPLE,
    }),
    ...ADMIN_BODY_ERRORS,
    404: problemReply('no such client'),
    409: problemReply('the policy set in force names an action this change removes'),
  },
});

const deleteClientRoute = adminRoute('clients:write', {
  method: 'delete',
  path: '/clients/{id}',
  tags: TAGS,
  summary: 'Delete a client',
  description: 'Revokes every grant of the client, then deletes it.',
  parameters: [CLIENT_ID],
  responses: {
    200: jsonReply('deleted', ClientDeletedSchema, { revoked: REVOKED_EXAMPLE }),
    404: problemReply('no such client'),
    409: problemReply('the policy set in force names an action the client registers'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerClients(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  const inputBody = requestBody(app, 'ClientInput', ClientInputSchema, 'application/json', {
    client_id: 'agent-1',
    name: 'Invoice summariser',
    kind: 'agent',
    groups: ['finance'],
  });
  const patchBody = requestBody(app, 'ClientPatch', ClientPatchSchema, 'application/json', {
    disabled: true,
  });
  app.openapi({ ...createClientRoute, request: { body: inputBody } }, async (c) =>
    c.json(
      await createClient(broker, await readJson(c, ClientInputSchema), c.var.operator.id),
      201,
      {
        'Cache-Control': 'no-store',
      },
    ),
  );
  app.openapi(listClientsRoute, async (c) =>
    c.json({ clients: (await broker.clients.list()).map(publicClient) }, 200),
  );
  app.openapi(showClientRoute, async (c) =>
    c.json(publicClient(await getClient(broker, clientId(c.req.param('id')))), 200),
  );
  app.openapi({ ...updateClientRoute, request: { body: patchBody } }, async (c) => {
    const id = clientId(c.req.param('id'));
    return c.json(
      await updateClient(broker, id, await readJson(c, ClientPatchSchema), c.var.operator.id),
      200,
    );
  });
  app.openapi(deleteClientRoute, async (c) =>
    c.json(await deleteClient(broker, clientId(c.req.param('id')), c.var.operator.id), 200),
  );
}
