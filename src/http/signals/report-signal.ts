// POST /v1/signals: a resource (Basic auth) or an admin (bearer) reports a context change -> 202.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import type { Client } from '../../domain/client.ts';
import { ProblemError } from '../../domain/errors.ts';
import { operatorMay } from '../../domain/operator.ts';
import { reportSignal, SignalRequestSchema } from '../../services/report-signal.ts';
import { authenticateJsonCaller, presentsCallerToken } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import {
  ADMIN_AUTH,
  ADMIN_BODY_ERRORS,
  CLIENT_AUTH,
  jsonReply,
  problemReply,
  requestBody,
} from '../openapi.ts';
import { readJson } from '../read-body.ts';

const SignalAcceptedSchema = z
  .object({
    accepted: z.number().int(),
    reevaluated: z
      .object({
        keep: z.number().int(),
        narrow: z.number().int(),
        suspend: z.number().int(),
        revoke: z.number().int(),
        missing: z.number().int(),
        ended: z.number().int().describe('grants that left the live index in this call'),
      })
      .describe(
        'what re-evaluating the named grants (up to 100 inline; the rest by the worker) did',
      ),
    refused_too_many_types: z
      .array(z.string())
      .optional()
      .describe('grants that refused the signal: a new type beyond signals.max_types_per_grant'),
  })
  .meta({ id: 'SignalAccepted' });

export const reportSignalRoute = createRoute({
  method: 'post',
  path: '/signals',
  tags: ['Signals'],
  summary: 'Report a context change',
  description:
    'A resource client (its grants only) or an admin reports a context change (`ip_changed`, `prompt_changed` with `context.actions`, `workload_mismatch`, `credential_compromised`, `task_complete`, ...). Affected grants are re-evaluated before the call returns.',
  security: [...CLIENT_AUTH, ...ADMIN_AUTH],
  responses: {
    202: jsonReply('accepted and re-evaluated', SignalAcceptedSchema, {
      accepted: 1,
      reevaluated: { keep: 0, narrow: 0, suspend: 1, revoke: 0, missing: 0, ended: 1 },
    }),
    ...ADMIN_BODY_ERRORS,
    403: problemReply('only resource clients and admins report signals'),
    409: problemReply(
      'the signal is of a new type and every grant it names holds signals.max_types_per_grant types',
    ),
  },
});

/** Registers `POST /v1/signals` on the signals sub-app. */
export function registerReportSignal(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  const body = requestBody(app, 'SignalRequest', SignalRequestSchema, 'application/json', {
    type: 'ip_changed',
    grant_id: 'g_01HZY3K9Q4W8',
    context: { ip: '198.51.100.23' },
  });
  app.openapi(
    { ...reportSignalRoute, request: { body }, middleware: [rateLimit] as const },
    async function signal(c) {
      const header = c.req.header('authorization') ?? '';
      let caller: Client | undefined;
      const bearer = /^Bearer (.{1,512})$/.exec(header)?.[1];
      if (bearer && !presentsCallerToken(c)) {
        const operator = await deps.adminIdentity(bearer);
        if (!operator) throw new ProblemError(401, 'Unauthorized', 'invalid admin token');
        if (!operatorMay(operator, 'signals:report'))
          throw new ProblemError(
            403,
            'Forbidden',
            "this operator's roles do not allow signals:report (roles that do: admin)",
          );
      } else {
        const client = await authenticateJsonCaller(c, deps.broker);
        caller = client;
        if (client.kind !== 'resource')
          throw new ProblemError(
            403,
            'Forbidden',
            'only resource clients and admins report signals',
          );
      }
      const result = await reportSignal(
        deps.broker,
        caller,
        await readJson(c, SignalRequestSchema),
      );
      return c.json(result, 202);
    },
  );
}
