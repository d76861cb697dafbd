// GET /oauth/clients/{client_id} (RFC 7592 2.1, read-only): a client reads its own registration, e.g. a resource client its actions.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { clientRegistration } from '../../domain/client.ts';
import { OAuthError } from '../../domain/errors.ts';
import { ClientRegistrationSchema } from '../../domain/wire/oauth.ts';
import { authenticateJsonCaller } from '../client-auth.ts';
import type { HttpDeps } from '../http-deps.ts';
import { oauthJson } from '../oauth-response.ts';
import { CLIENT_AUTH, jsonReply, OAUTH_ERRORS, pathParameter } from '../openapi.ts';

export const clientRegistrationRoute = createRoute({
  method: 'get',
  path: '/clients/{client_id}',
  tags: ['OAuth'],
  summary: "Read the caller's own registration (RFC 7592)",
  description:
    "A client reads its own registration, as RFC 7592's client configuration endpoint answers a read: name, authentication method, kind, and for a resource client its resources and the actions it serves (an MCP server's tool names, which `mandate/mcp` advertises). Authenticate with HTTP Basic or, for a resource client without a secret, `Authorization: Bearer` with its caller token. Read-only: registrations change through the admin API. Credentials of another client than the one in the path are refused like wrong ones (401 invalid_client).",
  security: CLIENT_AUTH,
  parameters: [pathParameter('client_id', 'the calling client (percent-encoded)')],
  responses: {
    200: jsonReply('the registration', ClientRegistrationSchema, {
      client_id: 'tickets-mcp',
      client_name: 'Tickets MCP server',
      client_id_issued_at: 1767225600,
      token_endpoint_auth_method: 'client_secret_basic',
      kind: 'resource',
      resources: ['https://mcp.example.com/mcp'],
      actions: ['search_tickets', 'read_ticket', 'export_tickets'],
    }),
    ...OAUTH_ERRORS,
  },
});

/** Registers `GET /oauth/clients/{client_id}` on the OAuth sub-app. */
export function registerClientRegistration(
  app: OpenAPIHono,
  deps: HttpDeps,
  rateLimit: MiddlewareHandler,
): void {
  app.openapi(
    { ...clientRegistrationRoute, middleware: [rateLimit] as const },
    async function readOwnRegistration(c) {
      const caller = await authenticateJsonCaller(c, deps.broker);
      // RFC 7592 2.1: credentials that are not this client's get the answer wrong ones get.
      if (caller.client_id !== c.req.param('client_id'))
        throw new OAuthError('invalid_client', 'the credentials are not those of this client');
      return oauthJson(c, clientRegistration(caller));
    },
  );
}
