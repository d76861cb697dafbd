// /admin/receivers: register, list and remove CAEP receivers (RFC 8935 push endpoints).
import { z } from 'zod';
import {
  ReceiverIdSchema,
  ReceiverInputSchema,
  type ReceiverStore,
} from '../../domain/receiver.ts';
import { createReceiver, deleteReceiver, listReceivers } from '../../services/manage-receivers.ts';
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

const receiverId = (raw: string) => readPathId(ReceiverIdSchema, raw, 'Receiver');

const PublicReceiverSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    audience: z.string(),
    events: z.array(z.string()),
    has_authorization: z.boolean(),
  })
  .meta({ id: 'Receiver' });

const RECEIVER_EXAMPLE = {
  id: 'files-api',
  url: 'https://files.example.com/caep',
  audience: 'https://files.example.com',
  events: [
    'https://schemas.openid.net/secevent/caep/event-type/session-revoked',
    'https://schemas.openid.net/secevent/caep/event-type/token-claims-change',
  ],
  has_authorization: true,
};
const TAGS = ['Admin: CAEP receivers'];

const createReceiverRoute = adminRoute('receivers:write', {
  method: 'post',
  path: '/receivers',
  tags: TAGS,
  summary: 'Register a CAEP receiver',
  description:
    'An RFC 8935 push endpoint that receives a signed Security Event Token (CAEP session-revoked, token-claims-change) whenever a grant on its `audience` (default: its url) ends or shrinks; a narrowing shows it only the entries of its audience. The url must be https on a public address unless config `caep.allow_http` / `caep.allow_private_targets` allow more (400 otherwise); each push goes to a freshly resolved and checked address, without following redirects.',
  responses: {
    201: jsonReply('created', PublicReceiverSchema, RECEIVER_EXAMPLE),
    ...ADMIN_BODY_ERRORS,
    409: problemReply('the id is taken'),
  },
});

const listReceiversRoute = adminRoute('receivers:read', {
  method: 'get',
  path: '/receivers',
  tags: TAGS,
  summary: 'List CAEP receivers',
  description: 'Bearer tokens are only said to exist.',
  responses: {
    200: jsonReply(
      'the receivers',
      z.object({ receivers: z.array(PublicReceiverSchema) }).meta({ id: 'ReceiverList' }),
      { receivers: [RECEIVER_EXAMPLE] },
    ),
  },
});

const deleteReceiverRoute = adminRoute('receivers:write', {
  method: 'delete',
  path: '/receivers/{id}',
  tags: TAGS,
  summary: 'Remove a CAEP receiver',
  description: 'Stops pushes to it.',
  parameters: [pathParameter('id', 'receiver id')],
  responses: {
    200: jsonReply('removed', z.object({ deleted: z.string() }).meta({ id: 'ReceiverDeleted' }), {
      deleted: 'files-api',
    }),
    404: problemReply('no such receiver'),
  },
});

/** The routes; receiver URLs are held to `deps.receiverTargets` (https and public addresses when absent). */
/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerReceivers(
  app: AdminApp,
  deps: HttpDeps & { receivers: ReceiverStore },
): void {
  const { receivers } = deps;
  const body = requestBody(app, 'ReceiverInput', ReceiverInputSchema, 'application/json', {
    id: 'files-api',
    url: 'https://files.example.com/caep',
    authorization: 'Bearer s3cr3t-receiver-token',
  });
  app.openapi({ ...createReceiverRoute, request: { body } }, async (c) =>
    c.json(
      await createReceiver(receivers, await readJson(c, ReceiverInputSchema), deps.receiverTargets),
      201,
      { 'Cache-Control': 'no-store' },
    ),
  );
  app.openapi(listReceiversRoute, async (c) => c.json(await listReceivers(receivers), 200));
  app.openapi(deleteReceiverRoute, async (c) =>
    c.json(await deleteReceiver(receivers, receiverId(c.req.param('id')))),
  );
}
