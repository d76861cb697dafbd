// /openapi.json is a valid OpenAPI 3.1 document generated from the route declarations, of every route the app serves, each with an example; /docs renders it.
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientInputSchema } from '../../src/domain/client.ts';
import { OAUTH_ERROR_CODES } from '../../src/domain/errors.ts';
import { RevocationRequestSchema } from '../../src/http/admin/revocations.ts';
import { createApp } from '../../src/http/app.ts';
import { TokenRequestFormSchema } from '../../src/http/oauth/token.ts';
import { jsonSchemaOf } from '../../src/http/openapi.ts';
import { EvaluationSchema } from '../../src/services/evaluate-access.ts';
import { type Credentials, createClients, oauthPost } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content: Record<string, { schema: { $ref: string }; example?: unknown }> };
        responses: Record<string, unknown>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
};

describe('OpenAPI document and reference page', () => {
  let broker: TestBroker;
  let doc: Doc;
  let agent: Credentials;

  beforeAll(async () => {
    broker = await startTestBroker();
    const res = await fetch(`${broker.url}/openapi.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/json');
    doc = (await res.json()) as Doc;
    ({ agent } = await createClients(broker.url));
  });

  afterAll(async () => {
    await broker?.close();
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(
      doc as unknown as Parameters<Validator['validate']>[0],
    );
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('documents every route the app serves, each operation with an example', () => {
    const d = broker.mandate.deps;
    const app = createApp({
      broker: d.broker,
      keyRing: d.keyRing,
      metrics: d.metrics,
      log: d.log,
      adminIdentity: (t) => d.adminIdentity(t),
      readiness: () => d.readiness(),
      receivers: d.receivers,
      bodyLimitBytes: 65_536,
      batchBodyLimitBytes: 1_048_576,
      trustProxy: false,
      remoteAddress: () => undefined,
    });
    const served = new Set(
      app.routes.filter((r) => r.method !== 'ALL').map((r) => `${r.method} ${r.path}`),
    );
    expect(served.size).toBeGreaterThan(30);
    const inDoc = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`),
    );
    expect(inDoc.sort()).toEqual([...served].sort());
    for (const [path, item] of Object.entries(doc.paths))
      for (const [method, op] of Object.entries(item)) {
        const contents = [
          ...Object.values(op.requestBody?.content ?? {}),
          ...Object.values(op.responses).flatMap((r) =>
            Object.values((r as { content?: Record<string, unknown> }).content ?? {}),
          ),
        ] as Array<{ example?: unknown }>;
        expect(
          contents.some((c) => c.example !== undefined),
          `${method} ${path} has an example`,
        ).toBe(true);
      }
  });

  it('describes request bodies with the schemas the routes validate with', () => {
    const bodyRef = (path: string, method: string, type = 'application/json') => {
      const ref = doc.paths[path]?.[method]?.requestBody?.content[type]?.schema.$ref ?? '';
      return doc.components.schemas[ref.split('/').pop() ?? ''] as {
        properties: Record<string, { enum?: string[]; 'x-decoded-schema'?: { $ref: string } }>;
        required?: string[];
      };
    };
    const keysOf = (schema: Record<string, unknown>) =>
      Object.keys((schema as { properties: object }).properties).sort();
    expect(keysOf(bodyRef('/admin/clients', 'post'))).toEqual(
      keysOf(jsonSchemaOf(ClientInputSchema, 'input')),
    );
    expect(keysOf(bodyRef('/admin/revocations', 'post'))).toEqual(
      keysOf(jsonSchemaOf(RevocationRequestSchema, 'input')),
    );
    expect(keysOf(bodyRef('/access/v1/evaluation', 'post'))).toEqual(
      keysOf(jsonSchemaOf(EvaluationSchema, 'input')),
    );
    const token = bodyRef('/oauth/token', 'post', 'application/x-www-form-urlencoded');
    expect(keysOf(token)).toEqual(keysOf(jsonSchemaOf(TokenRequestFormSchema, 'input')));
    expect(token.required).toEqual(['grant_type']);
    expect(token.properties.grant_type?.enum).toContain('client_credentials');
    // authorization_details is JSON inside a form field: its decoded shape is a schema of its own.
    const decoded = token.properties.authorization_details?.['x-decoded-schema']?.$ref ?? '';
    const details = doc.components.schemas[decoded.split('/').pop() ?? ''] as {
      type: string;
      items: { properties: Record<string, unknown> };
    };
    expect(details.type).toBe('array');
    expect(Object.keys(details.items.properties)).toEqual(
      expect.arrayContaining(['type', 'task_id', 'actions', 'locations']),
    );
  });

  it('gives every response of an error wire format its shape, with the OAuth codes of the domain', () => {
    const ref = (path: string, method: string, status: string) =>
      JSON.stringify(doc.paths[path]?.[method]?.responses[status]);
    expect(ref('/oauth/token', 'post', '400')).toContain('#/components/schemas/OAuthError');
    expect(ref('/admin/clients', 'post', '400')).toContain('application/problem+json');
    expect(ref('/access/v1/evaluation', 'post', '401')).toContain(
      '#/components/schemas/AuthZenDecision',
    );
    const oauthError = doc.components.schemas.OAuthError as {
      properties: { error: { enum: string[] } };
    };
    expect(oauthError.properties.error.enum).toEqual([...OAUTH_ERROR_CODES]);
    const tokenResponse = doc.components.schemas.TokenResponse as {
      properties: { token_type: Record<string, unknown> };
    };
    expect(JSON.stringify(tokenResponse.properties.token_type)).toContain('DPoP');
  });

  it('renders /docs as one self-contained HTML page naming every path', async () => {
    const res = await fetch(`${broker.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).not.toMatch(/<script|<link |https?:\/\/(cdn|unpkg)/i);
    for (const path of Object.keys(doc.paths)) expect(html).toContain(`<code>${path}</code>`);
    expect(html).toContain('<code>authorization_details</code>');
  });

  describe('the token, introspection and revocation forms are validated by their schemas', () => {
    it('answers invalid_request for a missing grant_type and unsupported_grant_type for an unknown one', async () => {
      const missing = await oauthPost(broker.url, '/oauth/token', { scope: 'read' }, agent);
      expect([missing.status, missing.body.error]).toEqual([400, 'invalid_request']);
      const unknown = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'password' },
        agent,
      );
      expect([unknown.status, unknown.body.error]).toEqual([400, 'unsupported_grant_type']);
    });

    it('answers invalid_request for a refresh without refresh_token and for a repeated parameter', async () => {
      const noRefresh = await oauthPost(
        broker.url,
        '/oauth/token',
        { grant_type: 'refresh_token' },
        agent,
      );
      expect([noRefresh.status, noRefresh.body.error]).toEqual([400, 'invalid_request']);
      expect(String(noRefresh.body.error_description)).toContain('refresh_token');
      const repeated = await oauthPost(
        broker.url,
        '/oauth/token',
        'grant_type=client_credentials&scope=a&scope=b',
        agent,
      );
      expect([repeated.status, repeated.body.error]).toEqual([400, 'invalid_request']);
    });

    it('answers invalid_request without a token and unsupported_token_type for a foreign hint', async () => {
      const noToken = await oauthPost(
        broker.url,
        '/oauth/revoke',
        { token_type_hint: 'access_token' },
        agent,
      );
      expect([noToken.status, noToken.body.error]).toEqual([400, 'invalid_request']);
      const hint = await oauthPost(
        broker.url,
        '/oauth/revoke',
        { token: 'x', token_type_hint: 'id_token' },
        agent,
      );
      expect([hint.status, hint.body.error]).toEqual([400, 'unsupported_token_type']);
    });
  });
});
