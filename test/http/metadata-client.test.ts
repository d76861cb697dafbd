// A client known by its Client ID Metadata Document becomes a client record (grants, policy, kill switch work as for any agent); without a resolver it is invalid_client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientMetadataDocuments, MetadataClient } from '../../src/domain/client-metadata.ts';
import { OAuthError } from '../../src/domain/errors.ts';
import { authorizingClient } from '../../src/services/metadata-client.ts';
import { createTestApp, type TestApp } from '../support/test-app.ts';

const URL_ID = 'https://app.example.com/oauth/client.json';

let t: TestApp;
let doc: MetadataClient;
/** A resolver answering with `doc` (the real one fetches and validates; that is another module's test). */
const documents: ClientMetadataDocuments = { resolve: async (url) => ({ ...doc, client_id: url }) };

beforeAll(async () => {
  t = await createTestApp({ name: 'http-metadata-client' });
});

afterAll(async () => {
  await t?.close();
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return err instanceof OAuthError ? err.code : String(err);
  }
}

describe('authorizingClient', () => {
  it('an https client_id without a resolver is invalid_client', async () => {
    expect(await codeOf(authorizingClient(t.deps.broker, URL_ID, undefined))).toBe(
      'invalid_client',
    );
  });

  it('keeps the document as an agent record, updates it when the document changes, and refuses it once disabled', async () => {
    doc = {
      client_id: URL_ID,
      client_name: 'Doc App',
      redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'none',
    };
    const first = await authorizingClient(t.deps.broker, URL_ID, documents);
    expect(first).toMatchObject({ client_id: URL_ID, kind: 'agent', name: 'Doc App' });
    expect((await t.deps.broker.clients.get(URL_ID))?.redirect_uris).toEqual([
      'http://127.0.0.1/cb',
    ]);

    doc = { ...doc, client_name: 'Doc App 2', redirect_uris: ['http://127.0.0.1/other'] };
    await authorizingClient(t.deps.broker, URL_ID, documents);
    const stored = await t.deps.broker.clients.get(URL_ID);
    expect(stored?.name).toBe('Doc App 2');
    expect(stored?.redirect_uris).toEqual(['http://127.0.0.1/other']);

    // The kill switch works on it like on any agent.
    await t.deps.broker.clients.put({ ...(stored as NonNullable<typeof stored>), disabled: true });
    expect(await codeOf(authorizingClient(t.deps.broker, URL_ID, documents))).toBe(
      'invalid_client',
    );
  });

  it('a registered id must be an enabled agent', async () => {
    const agent = await t.client({ name: 'a', kind: 'agent' });
    expect((await authorizingClient(t.deps.broker, agent.client_id, undefined)).client_id).toBe(
      agent.client_id,
    );
    expect(await codeOf(authorizingClient(t.deps.broker, 'no such id!', undefined))).toBe(
      'invalid_client',
    );
  });
});
