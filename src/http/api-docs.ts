// GET /openapi.json and GET /docs: the API's own reference, generated from the routes, unauthenticated.
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { BlankEnv } from 'hono/types';
import { z } from 'zod';
import { renderDocsPage } from './docs-page.ts';
import { NO_AUTH } from './openapi.ts';

const openApiRoute = createRoute({
  method: 'get',
  path: '/openapi.json',
  tags: ['Operations'],
  summary: 'This document',
  description:
    'The OpenAPI 3.1 document of the whole HTTP API, generated from the route declarations.',
  security: NO_AUTH,
  responses: {
    200: {
      description: 'OpenAPI 3.1 document',
      content: {
        'application/json': {
          schema: z.record(z.string(), z.unknown()),
          example: { openapi: '3.1.0', info: { title: 'Mandate', version: '1' }, paths: {} },
        },
      },
    },
  },
});

const docsRoute = createRoute({
  method: 'get',
  path: '/docs',
  tags: ['Operations'],
  summary: 'Rendered reference',
  description: 'This document rendered as a self-contained HTML page.',
  security: NO_AUTH,
  responses: {
    200: {
      description: 'HTML page',
      content: {
        'text/html': {
          schema: z.string(),
          example: '<!doctype html><html><head><title>Mandate API</title></head>…</html>',
        },
      },
    },
  },
});

/**
 * Registers both on the root app. `document` is called once, at the first request, when every
 * sub-app has been mounted: the document is generated from all of them.
 */
export function registerApiDocs(
  app: OpenAPIHono<BlankEnv>,
  bodyLimit: MiddlewareHandler,
  document: () => Record<string, unknown>,
): void {
  let built: { doc: Record<string, unknown>; html: string } | undefined;
  const docs = () => {
    if (!built) {
      const doc = document();
      built = { doc, html: renderDocsPage(doc) };
    }
    return built;
  };
  app.openapi({ ...openApiRoute, middleware: [bodyLimit] as const }, (c) =>
    c.json(docs().doc, 200, { 'Cache-Control': 'public, max-age=300' }),
  );
  app.openapi({ ...docsRoute, middleware: [bodyLimit] as const }, (c) =>
    c.html(docs().html, 200, {
      'Cache-Control': 'public, max-age=300',
      // Nothing on the page runs or loads: only the inline stylesheet.
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    }),
  );
}
