// /admin/clients: register, list, show, change (disable = kill switch) and delete clients.
import {
  ClientIdSchema,
  ClientInputSchema,
  ClientPatchSchema,
  publicClient,
} from '../../domain/client.ts';
import { ProblemError } from '../../domain/errors.ts';
import {
  createClient,
  deleteClient,
  getClient,
  updateClient,
} from '../../services/manage-clients.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readJson } from '../read-body.ts';
import type { AdminApp } from './admin-auth.ts';

function clientId(raw: string): string {
  const parsed = ClientIdSchema.safeParse(raw);
  if (!parsed.success) throw new ProblemError(404, 'Client not found', 'no such client');
  return parsed.data;
}

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerClients(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  app.post('/clients', async (c) =>
    c.json(await createClient(broker, await readJson(c, ClientInputSchema), c.var.admin), 201, {
      'Cache-Control': 'no-store',
    }),
  );
  app.get('/clients', async (c) =>
    c.json({ clients: (await broker.clients.list()).map(publicClient) }),
  );
  app.get('/clients/:id', async (c) =>
    c.json(publicClient(await getClient(broker, clientId(c.req.param('id'))))),
  );
  app.patch('/clients/:id', async (c) => {
    const id = clientId(c.req.param('id'));
    return c.json(
      await updateClient(broker, id, await readJson(c, ClientPatchSchema), c.var.admin),
    );
  });
  app.delete('/clients/:id', async (c) =>
    c.json(await deleteClient(broker, clientId(c.req.param('id')), c.var.admin)),
  );
}
