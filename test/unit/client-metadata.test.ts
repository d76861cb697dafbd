// Client ID Metadata Documents, pure part: client_id URLs, document validation, redirect matching, cache lifetimes.

import { describe, expect, it } from 'vitest';
import { redirectUriMatches } from '../../src/domain/authorization-request.ts';
import { redirectUriProblem } from '../../src/domain/client.ts';
import {
  cacheLifetimeSec,
  clientIdUrlProblem,
  isClientIdUrl,
  readClientMetadata,
} from '../../src/domain/client-metadata.ts';

const URL_ = 'https://app.example.com/oauth/client.json';
const doc = (over: Record<string, unknown> = {}) => ({
  client_id: URL_,
  client_name: 'App',
  redirect_uris: ['https://app.example.com/cb'],
  ...over,
});
const KEY = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' };

describe('clientIdUrlProblem', () => {
  it.each([URL_, 'https://app.example.com:8443/c', 'https://app.example.com/c?v=1'])(
    'accepts %s',
    (url) => {
      expect(clientIdUrlProblem(url)).toBeUndefined();
      expect(isClientIdUrl(url)).toBe(true);
    },
  );

  it.each([
    ['http://app.example.com/c', /https/],
    ['https://app.example.com', /path/],
    ['https://app.example.com/', /path/],
    ['https://app.example.com/a/./c', /\. or \.\./],
    ['https://app.example.com/a/../c', /\. or \.\./],
    ['https://app.example.com/a/%2e%2E/c', /\. or \.\./],
    ['https://app.example.com/c#frag', /fragment/],
    ['https://u:p@app.example.com/c', /credentials/],
    ['https://u@app.example.com/c', /credentials/],
    [`https://app.example.com/${'a'.repeat(2050)}`, /longer/],
    ['not a url', /absolute/],
  ])('refuses %s', (url, why) => {
    expect(clientIdUrlProblem(url)).toMatch(why);
  });

  it('does not take a registered client id for a URL', () => {
    expect(isClientIdUrl('crm-agent')).toBe(false);
    expect(isClientIdUrl('http://app.example.com/c')).toBe(false);
  });
});

describe('readClientMetadata', () => {
  it('reads a public client, defaulting the auth method to none and keeping unknown members out', () => {
    const read = readClientMetadata(URL_, doc({ logo_uri: 'https://app.example.com/l.png' }));
    expect(read).toEqual({
      ok: true,
      client: {
        client_id: URL_,
        client_name: 'App',
        redirect_uris: ['https://app.example.com/cb'],
        token_endpoint_auth_method: 'none',
      },
    });
  });

  it('reads a private_key_jwt client with its keys', () => {
    const read = readClientMetadata(
      URL_,
      doc({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [KEY] } }),
    );
    expect(read.ok && read.client.jwks).toEqual({ keys: [KEY] });
  });

  it.each([
    [
      'a client_id naming another URL',
      doc({ client_id: 'https://evil.example.com/c.json' }),
      /client_id/,
    ],
    ['a client_id differing only in case', doc({ client_id: URL_.toUpperCase() }), /client_id/],
    ['a client_id with a trailing slash', doc({ client_id: `${URL_}/` }), /client_id/],
    ['no redirect_uris', doc({ redirect_uris: undefined }), /redirect_uris/],
    ['empty redirect_uris', doc({ redirect_uris: [] }), /redirect_uris/],
    ['a relative redirect URI', doc({ redirect_uris: ['/cb'] }), /redirect_uris\.0/],
    [
      'a redirect URI with a fragment',
      doc({ redirect_uris: ['https://a.example/cb#x'] }),
      /fragment/,
    ],
    ['plain http off loopback', doc({ redirect_uris: ['http://a.example/cb'] }), /loopback/],
    ['a javascript: redirect', doc({ redirect_uris: ['javascript:alert(1)'] }), /redirect_uris/],
    [
      'too many redirect URIs',
      doc({ redirect_uris: Array(33).fill('https://a.example/cb') }),
      /redirect_uris/,
    ],
    [
      'client_secret_basic',
      doc({ token_endpoint_auth_method: 'client_secret_basic' }),
      /none or private_key_jwt/,
    ],
    ['a client_secret', doc({ client_secret: 's3cret-s3cret-s3cret' }), /client_secret/],
    [
      'a client_secret_expires_at',
      doc({ client_secret_expires_at: 0 }),
      /client_secret_expires_at/,
    ],
    [
      'private_key_jwt without keys',
      doc({ token_endpoint_auth_method: 'private_key_jwt' }),
      /jwks/,
    ],
    ['keys on a public client', doc({ jwks: { keys: [KEY] } }), /private_key_jwt clients only/],
    [
      'a private key in jwks',
      doc({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...KEY, d: 'x' }] } }),
      /private key/,
    ],
    [
      'an http jwks_uri',
      doc({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://a.example/jwks' }),
      /https/,
    ],
    ['a client_name that is not text', doc({ client_name: 42 }), /client_name/],
    ['an array', [], /document/],
  ])('refuses %s', (_what, body, why) => {
    const read = readClientMetadata(URL_, body);
    expect(read.ok).toBe(false);
    expect(!read.ok && read.problem).toMatch(why);
  });
});

describe('redirectUriProblem', () => {
  it.each([
    'https://app.example.com/cb',
    'http://127.0.0.1/cb',
    'http://127.0.0.1:8080/cb',
    'http://[::1]:9000/cb',
    'http://localhost:3000/callback',
    'com.example.app:/oauth2redirect',
  ])('accepts %s', (uri) => expect(redirectUriProblem(uri)).toBeUndefined());

  it.each(['http://app.example.com/cb', 'myapp:/cb', 'data:text/html,x', 'cb'])(
    'refuses %s',
    (uri) => expect(redirectUriProblem(uri)).toBeDefined(),
  );
});

describe('redirectUriMatches', () => {
  const client = {
    redirect_uris: [
      'https://app.example.com/cb',
      'http://127.0.0.1/callback',
      'http://localhost:3000/cb?x=1',
    ],
  };

  it.each([
    'https://app.example.com/cb',
    'http://127.0.0.1/callback',
    'http://127.0.0.1:53120/callback',
    'http://127.0.0.1:1/callback',
    'http://localhost:4000/cb?x=1',
    'http://localhost/cb?x=1',
  ])('accepts %s', (uri) => expect(redirectUriMatches(client.redirect_uris, uri)).toBe(true));

  it.each([
    'https://app.example.com/cb/',
    'https://app.example.com/CB',
    'https://app.example.com:443/cb',
    'https://app.example.com/cb?x',
    'https://app.example.com/cb#',
    'http://127.0.0.1:53120/callback/',
    'http://127.0.0.1:53120/callbacks',
    'http://127.0.0.1:70000/callback',
    'http://127.0.0.1:0/callback',
    'http://[::1]:53120/callback', // another loopback host than the registered one
    'http://localhost:53120/callback',
    'http://127.0.0.1.evil.example/callback',
    'http://localhost:4000/cb?x=2',
    'https://127.0.0.1:53120/callback',
  ])('refuses %s', (uri) => expect(redirectUriMatches(client.redirect_uris, uri)).toBe(false));
});

describe('cacheLifetimeSec', () => {
  const bounds = { minSec: 60, maxSec: 3600 };
  it.each<[string | undefined, number]>([
    [undefined, 60],
    ['', 60],
    ['max-age=300', 300],
    ['public, max-age=300', 300],
    ['Max-Age="300"', 300],
    ['max-age=10', 60],
    ['max-age=0', 60],
    ['max-age=999999', 3600],
    ['max-age=abc', 60],
    ['no-store', 0],
    ['max-age=300, no-store', 0],
    ['no-cache', 0],
  ])('%s -> %i s', (header, seconds) => expect(cacheLifetimeSec(header, bounds)).toBe(seconds));
});
