// GET /openapi.json and GET /docs: the API's own reference, unauthenticated.
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { renderDocsPage } from './docs-page.ts';
import type { HttpDeps } from './http-deps.ts';
import { buildOpenApiDocument } from './openapi.ts';

export function apiDocRoutes(
  deps: Pick<HttpDeps, 'broker'>,
  bodyLimit: MiddlewareHandler,
): OpenAPIHono {
  // Built once per app: the document depends only on the schemas and the issuer.
  const doc = buildOpenApiDocument({ issuer: deps.broker.settings.issuer });
  const json = JSON.stringify(doc);
  const html = renderDocsPage(doc);
  const app = new OpenAPIHono();
  app.get('/openapi.json', bodyLimit, (c) =>
    c.body(json, 200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'public, max-age=300',
    }),
  );
  app.get('/docs', bodyLimit, (c) =>
    c.html(html, 200, {
      'Cache-Control': 'public, max-age=300',
      // Nothing on the page runs or loads: only the inline stylesheet.
      'Content-Security-Policy':
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    }),
  );
  return app;
}
