// /admin/receivers: register, list and remove CAEP receivers (RFC 8935 push endpoints).
import { ProblemError } from '../../domain/errors.ts';
import {
  ReceiverIdSchema,
  ReceiverInputSchema,
  type ReceiverStore,
} from '../../domain/receiver.ts';
import { createReceiver, deleteReceiver, listReceivers } from '../../services/manage-receivers.ts';
import type { HttpDeps } from '../http-deps.ts';
import { readJson } from '../read-body.ts';
import type { AdminApp } from './admin-auth.ts';

function receiverId(raw: string): string {
  const parsed = ReceiverIdSchema.safeParse(raw);
  if (!parsed.success) throw new ProblemError(404, 'Receiver not found', 'no such receiver');
  return parsed.data;
}

/** The routes; receiver URLs are held to `deps.receiverTargets` (https and public addresses when absent). */
/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerReceivers(
  app: AdminApp,
  deps: HttpDeps & { receivers: ReceiverStore },
): void {
  const { receivers } = deps;
  app.post('/receivers', async (c) =>
    c.json(
      await createReceiver(receivers, await readJson(c, ReceiverInputSchema), deps.receiverTargets),
      201,
      { 'Cache-Control': 'no-store' },
    ),
  );
  app.get('/receivers', async (c) => c.json(await listReceivers(receivers)));
  app.delete('/receivers/:id', async (c) =>
    c.json(await deleteReceiver(receivers, receiverId(c.req.param('id')))),
  );
}
