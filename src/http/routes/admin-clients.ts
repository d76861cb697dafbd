// /admin/clients: register, list, show, change (disable = kill switch) and delete clients.
import { Hono } from 'hono';
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
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';
import { readJson } from '../read-body.ts';

function clientId(raw: string): string {
  const parsed = ClientIdSchema.safeParse(raw);
  if (!parsed.success) throw new ProblemError(404, 'Client not found', 'no such client');
  return parsed.data;
}

export function adminClientRoutes(deps: HttpDeps): Hono<AdminEnv> {
  const { broker } = deps;
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.post('/admin/clients', async (c) =>
    c.json(await createClient(broker, await readJson(c, ClientInputSchema), c.var.admin), 201, {
      'Cache-Control': 'no-store',
    }),
  );
  app.get('/admin/clients', async (c) =>
    c.json({ clients: (await broker.clients.list()).map(publicClient) }),
  );
  app.get('/admin/clients/:id', async (c) =>
    c.json(publicClient(await getClient(broker, clientId(c.req.param('id'))))),
  );
  app.patch('/admin/clients/:id', async (c) => {
    const id = clientId(c.req.param('id'));
    return c.json(
      await updateClient(broker, id, await readJson(c, ClientPatchSchema), c.var.admin),
    );
  });
  app.delete('/admin/clients/:id', async (c) =>
    c.json(await deleteClient(broker, clientId(c.req.param('id')), c.var.admin)),
  );
  return app;
}
