// /admin/receivers: register, list and remove CAEP receivers (RFC 8935 push endpoints).
import { Hono } from 'hono';
import { ProblemError } from '../../domain/errors.ts';
import {
  ReceiverIdSchema,
  ReceiverInputSchema,
  type ReceiverStore,
} from '../../domain/receiver.ts';
import { createReceiver, deleteReceiver, listReceivers } from '../../services/manage-receivers.ts';
import type { AdminEnv } from '../admin-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { renderProblem } from '../problem-response.ts';
import { readJson } from '../read-body.ts';

function receiverId(raw: string): string {
  const parsed = ReceiverIdSchema.safeParse(raw);
  if (!parsed.success) throw new ProblemError(404, 'Receiver not found', 'no such receiver');
  return parsed.data;
}

/** The routes; receiver URLs are held to `deps.receiverTargets` (https and public addresses when absent). */
export function adminReceiverRoutes(deps: HttpDeps & { receivers: ReceiverStore }): Hono<AdminEnv> {
  const { receivers } = deps;
  const app = new Hono<AdminEnv>();
  app.onError((err, c) => renderProblem(c, err, deps.log));
  app.post('/admin/receivers', async (c) =>
    c.json(
      await createReceiver(receivers, await readJson(c, ReceiverInputSchema), deps.receiverTargets),
      201,
      { 'Cache-Control': 'no-store' },
    ),
  );
  app.get('/admin/receivers', async (c) => c.json(await listReceivers(receivers)));
  app.delete('/admin/receivers/:id', async (c) =>
    c.json(await deleteReceiver(receivers, receiverId(c.req.param('id')))),
  );
  return app;
}
