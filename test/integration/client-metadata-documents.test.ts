// Client ID Metadata Documents fetched over real HTTPS (a private CA): validation, SSRF guards, bounds and caching.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientMetadataDocuments } from '../../src/domain/client-metadata.ts';
import { OAuthError } from '../../src/domain/errors.ts';
import type { ResolveAll } from '../../src/net/checked-lookup.ts';
import {
  type ClientMetadataOptions,
  createHttpsClientMetadataDocuments,
} from '../../src/net/https-client-metadata.ts';
import {
  makeTestCertificates,
  startTlsTestServer,
  type TestCertificates,
  type TlsTestServer,
} from '../support/tls-test-server.ts';

const HOST = 'cimd.test';
let certs: TestCertificates;
let server: TlsTestServer;
const base = () => `https://${HOST}:${server.port}`;
const held: ServerResponse[] = [];
const PUBLIC_KEY = {
  kty: 'EC',
  crv: 'P-256',
  x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
  y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
  use: 'sig',
};

/** A fake DNS: cimd.test is 127.0.0.1; other names go nowhere. */
const fakeDns: ResolveAll = async (hostname) =>
  hostname === HOST ? [{ address: '127.0.0.1', family: 4 }] : [];

function documentFor(url: string, over: Record<string, unknown> = {}) {
  return {
    client_id: url,
    client_name: 'Test MCP client',
    redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'],
    token_endpoint_auth_method: 'none',
    ...over,
  };
}

function serve(req: IncomingMessage, res: ServerResponse) {
  const path = new URL(req.url ?? '/', 'https://x').pathname;
  const self = `https://${req.headers.host}${path}`;
  const json = (body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };
  switch (path) {
    case '/client.json':
    case '/shared.json':
      return json(documentFor(self), { 'cache-control': 'public, max-age=300' });
    case '/no-store.json':
      return json(documentFor(self), { 'cache-control': 'no-store' });
    case '/other.json':
      return json(documentFor(`https://${req.headers.host}/client.json`));
    case '/secret.json':
      return json(documentFor(self, { client_secret: 'x'.repeat(40) }));
    case '/redirect.json':
      res.writeHead(302, { location: '/client.json' });
      return res.end();
    case '/big-declared.json':
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '70000' });
      return res.end(' '.repeat(70_000));
    case '/big-chunked.json': {
      // No Content-Length: the cap must stop the reading itself.
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = ' '.repeat(16_384);
      for (let i = 0; i < 8; i++) res.write(chunk);
      return res.end('{}');
    }
    case '/keyed.json':
      return json(
        documentFor(self, {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `https://${req.headers.host}/jwks.json`,
        }),
        { 'cache-control': 'max-age=600' },
      );
    case '/keyed-redirect.json':
      return json(
        documentFor(self, {
          token_endpoint_auth_method: 'private_key_jwt',
          jwks_uri: `https://${req.headers.host}/redirect.json`,
        }),
      );
    case '/jwks.json':
      return json({ keys: [PUBLIC_KEY] }, { 'cache-control': 'max-age=120' });
    case '/slow.json':
    case '/slow-2.json':
      held.push(res); // never answered
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

function documents(over: Partial<ClientMetadataOptions> = {}): ClientMetadataDocuments {
  return createHttpsClientMetadataDocuments({
    allowPrivate: true,
    allowedHosts: [],
    cache: { minSec: 60, maxSec: 3600 },
    maxEntries: 100,
    ca: certs.ca,
    resolve: fakeDns,
    timeoutMs: 1000,
    ...over,
  });
}

async function refusal(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OAuthError);
  // What the requester is told, then what stays server-side (the resolved address, the socket error).
  const { code, message, cause } = err as OAuthError;
  return { code, message: cause instanceof Error ? `${message}: ${cause.message}` : message };
}

beforeAll(async () => {
  certs = makeTestCertificates([HOST, 'localhost']);
  server = await startTlsTestServer(certs, serve);
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await server?.close();
});

describe('a valid document', () => {
  it('resolves to the client it describes, connecting to the address the guard resolved (cimd.test exists only there)', async () => {
    const url = `${base()}/client.json`;
    const client = await documents().resolve(url);
    expect(client).toEqual({
      client_id: url,
      client_name: 'Test MCP client',
      redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'],
      token_endpoint_auth_method: 'none',
    });
  });

  it('is refused when the server certificate is not trusted (no private CA given)', async () => {
    const { code, message } = await refusal(
      documents({ ca: undefined }).resolve(`${base()}/client.json`),
    );
    expect(code).toBe('invalid_client');
    expect(message).toMatch(/could not be fetched/);
  });
});

describe('documents that cannot be used', () => {
  it.each([
    ['/other.json', /client_id: does not equal/],
    ['/secret.json', /client_secret/],
    ['/redirect.json', /redirect/],
    ['/big-declared.json', /too large/],
    ['/big-chunked.json', /too large/],
    ['/missing.json', /HTTP 404/],
  ])('%s is refused with invalid_client', async (path, why) => {
    const { code, message } = await refusal(documents().resolve(`${base()}${path}`));
    expect(code).toBe('invalid_client');
    expect(message).toMatch(why);
  });

  it('does not follow a redirect', async () => {
    const before = server.hits.get('/client.json') ?? 0;
    await refusal(documents().resolve(`${base()}/redirect.json`));
    expect(server.hits.get('/client.json') ?? 0).toBe(before);
  });

  it('gives up on a server that does not answer within the deadline', async () => {
    const { code, message } = await refusal(
      documents({ timeoutMs: 300 }).resolve(`${base()}/slow.json`),
    );
    expect(code).toBe('invalid_client');
    expect(message).toMatch(/no answer within 300 ms/);
  });

  it('refuses http:// and other malformed client_id URLs before any request', async () => {
    const before = [...server.hits.values()].reduce((a, b) => a + b, 0);
    for (const url of [
      `http://${HOST}:${server.port}/client.json`,
      `${base()}/`,
      `${base()}/a/../client.json`,
      `${base()}/client.json#x`,
      `https://user:pw@${HOST}:${server.port}/client.json`,
    ]) {
      const { code } = await refusal(documents().resolve(url));
      expect(code).toBe('invalid_client');
    }
    expect([...server.hits.values()].reduce((a, b) => a + b, 0)).toBe(before);
  });
});

describe('a private_key_jwt document with a jwks_uri', () => {
  it('comes back with the keys fetched under the same guards, and no jwks_uri left to fetch', async () => {
    const client = await documents().resolve(`${base()}/keyed.json`);
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(client.jwks).toEqual({ keys: [PUBLIC_KEY] });
    expect(client.jwks_uri).toBeUndefined();
  });

  it('is kept only as long as the shorter of the two answers allows', async () => {
    let now = 5_000_000;
    const docs = documents({ nowMs: () => now });
    const before = server.hits.get('/jwks.json') ?? 0;
    await docs.resolve(`${base()}/keyed.json`);
    now += 119_000;
    await docs.resolve(`${base()}/keyed.json`);
    expect(server.hits.get('/jwks.json')).toBe(before + 1);
    now += 2000;
    await docs.resolve(`${base()}/keyed.json`);
    expect(server.hits.get('/jwks.json')).toBe(before + 2);
  });

  it('is refused when the jwks_uri redirects or is outside the allowed hosts', async () => {
    const { message } = await refusal(documents().resolve(`${base()}/keyed-redirect.json`));
    expect(message).toMatch(/jwks_uri answered a redirect/);
  });
});

describe('fetches at once', () => {
  it('answers temporarily_unavailable beyond maxFetches, and shares a URL already being fetched', async () => {
    const docs = documents({ maxFetches: 1, timeoutMs: 300 });
    const first = docs.resolve(`${base()}/slow.json`);
    const same = docs.resolve(`${base()}/slow.json`);
    const { code } = await refusal(docs.resolve(`${base()}/slow-2.json`));
    expect(code).toBe('temporarily_unavailable');
    await refusal(first);
    await refusal(same);
    expect(server.hits.get('/slow-2.json')).toBeUndefined();
  });
});

describe('private addresses (mcp.cimd_allow_private off)', () => {
  const strict = () => documents({ allowPrivate: false });

  it('refuses a name the system resolver maps to 127.0.0.1, without connecting', async () => {
    const before = server.hits.get('/client.json') ?? 0;
    const { code, message } = await refusal(
      documents({ allowPrivate: false, resolve: undefined }).resolve(
        `https://localhost:${server.port}/client.json`,
      ),
    );
    expect(code).toBe('invalid_client');
    expect(message).toMatch(/loopback address \(mcp\.cimd_allow_private is off\)/);
    expect(server.hits.get('/client.json') ?? 0).toBe(before);
  });

  it('refuses a name resolving to 127.0.0.1 through any resolver', async () => {
    const { message } = await refusal(strict().resolve(`${base()}/client.json`));
    expect(message).toMatch(/cimd\.test resolved to 127\.0\.0\.1/);
  });

  it.each([
    '127.0.0.1',
    '10.0.0.8',
    '169.254.169.254',
    '100.64.1.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '[fd00::1]',
    '[fe80::1]',
    '0.0.0.0',
  ])('refuses the literal address %s', async (host) => {
    const { code, message } = await refusal(strict().resolve(`https://${host}/client.json`));
    expect(code).toBe('invalid_client');
    expect(message).toMatch(/mcp\.cimd_allow_private is off/);
  });

  it('refuses a host outside mcp.cimd_allowed_hosts', async () => {
    const { message } = await refusal(
      documents({ allowedHosts: ['clients.example.com'] }).resolve(`${base()}/client.json`),
    );
    expect(message).toMatch(/cimd_allowed_hosts/);
    await expect(
      documents({ allowedHosts: [HOST.toUpperCase()] }).resolve(`${base()}/client.json`),
    ).resolves.toMatchObject({ client_name: 'Test MCP client' });
  });
});

describe('caching', () => {
  it('serves a document from cache for its max-age, then fetches it again', async () => {
    let now = 1_000_000;
    const docs = documents({ nowMs: () => now });
    const url = `${base()}/client.json`;
    const before = server.hits.get('/client.json') ?? 0;
    await docs.resolve(url);
    await docs.resolve(url);
    expect(server.hits.get('/client.json')).toBe(before + 1);
    now += 299_000;
    await docs.resolve(url);
    expect(server.hits.get('/client.json')).toBe(before + 1);
    now += 2000;
    await docs.resolve(url);
    expect(server.hits.get('/client.json')).toBe(before + 2);
  });

  it('fetches a no-store document every time', async () => {
    const docs = documents();
    const url = `${base()}/no-store.json`;
    const before = server.hits.get('/no-store.json') ?? 0;
    await docs.resolve(url);
    await docs.resolve(url);
    expect(server.hits.get('/no-store.json')).toBe(before + 2);
  });

  it('shares one fetch between concurrent resolves of one URL', async () => {
    const docs = documents();
    const url = `${base()}/shared.json`;
    const clients = await Promise.all([docs.resolve(url), docs.resolve(url), docs.resolve(url)]);
    expect(new Set(clients).size).toBe(1);
    expect(server.hits.get('/shared.json')).toBe(1);
  });

  it('keeps at most maxEntries documents', async () => {
    const docs = documents({ maxEntries: 1 });
    const before = server.hits.get('/client.json') ?? 0;
    await docs.resolve(`${base()}/client.json`);
    await docs.resolve(`${base()}/shared.json`);
    await docs.resolve(`${base()}/client.json`);
    expect(server.hits.get('/client.json')).toBe(before + 2);
  });
});
