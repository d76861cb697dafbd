// Client registration input, audience checks for resource servers, and the admin view of a client.
import { describe, expect, it } from 'vitest';
import {
  type Client,
  ClientInputSchema,
  ClientPatchSchema,
  publicClient,
  servesAudience,
} from '../../src/domain/client.ts';

const CRM = 'https://crm.example.com';
const MAIL = 'https://mail.example.com';

const resourceClient = (over: Partial<Client> = {}): Client => ({
  client_id: 'crm-api',
  name: 'CRM API',
  kind: 'resource',
  groups: [],
  attributes: {},
  resources: [CRM],
  token_endpoint_auth_method: 'client_secret_basic',
  disabled: false,
  created_at: 1_704_276_000,
  updated_at: 1_704_276_000,
  secret_hash: 'sha256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
  ...over,
});

describe('ClientInputSchema', () => {
  it('fills defaults for a minimal agent', () => {
    expect(ClientInputSchema.parse({ name: 'crm-summariser', kind: 'agent' })).toEqual({
      name: 'crm-summariser',
      kind: 'agent',
      groups: [],
      attributes: {},
      resources: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
  });

  it('accepts every documented field', () => {
    const input = {
      client_id: 'agent.crm-1@team_a',
      name: 'CRM agent',
      kind: 'agent',
      groups: ['writers'],
      attributes: { team: 'sales', level: 3, trusted: true, regions: ['eu', 'us'] },
      resources: [],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] },
      max_token_ttl: 900,
      max_grant_ttl: 86_400,
    };
    expect(ClientInputSchema.parse(input)).toEqual(input);
  });

  it.each([
    ['an unknown kind', { kind: 'admin' }],
    ['an empty name', { name: '' }],
    ['a client_id with a space', { client_id: 'my agent' }],
    ['a client_id with a colon (Basic auth separator)', { client_id: 'a:b' }],
    ['a client_id with a quote (Cedar entity id)', { client_id: 'a"b' }],
    ['a client_id starting with punctuation', { client_id: '-agent' }],
    ['a client_id of 129 characters', { client_id: 'a'.repeat(129) }],
    ['a relative resource', { resources: ['/crm'] }],
    ['an unknown auth method', { token_endpoint_auth_method: 'tls_client_auth' }],
    ['a token ttl above 900 s', { max_token_ttl: 901 }],
    ['a grant ttl above a day', { max_grant_ttl: 86_401 }],
    ['a zero ttl', { max_token_ttl: 0 }],
    ['an attribute name with a dash', { attributes: { 'bad-name': 'x' } }],
    ['an object attribute', { attributes: { nested: { a: 1 } } }],
    ['a fractional attribute', { attributes: { level: 1.5 } }],
    ['an unsafe integer attribute', { attributes: { level: 2 ** 53 } }],
    ['an unknown member', { client_secret: 'chosen-by-caller' }],
    ['a disabled flag at creation', { disabled: true }],
  ])('rejects %s', (_label, over) => {
    expect(ClientInputSchema.safeParse({ name: 'n', kind: 'agent', ...over }).success).toBe(false);
  });
});

describe('ClientPatchSchema', () => {
  it('accepts disabling and partial changes', () => {
    expect(ClientPatchSchema.parse({ disabled: true })).toEqual({ disabled: true });
    expect(ClientPatchSchema.parse({ groups: ['writers'] })).toMatchObject({ groups: ['writers'] });
  });

  it('refuses to change the id or the kind', () => {
    expect(ClientPatchSchema.safeParse({ client_id: 'other' }).success).toBe(false);
    expect(ClientPatchSchema.safeParse({ kind: 'resource' }).success).toBe(false);
  });
});

describe('servesAudience', () => {
  it('is true when one audience is among the resources', () => {
    expect(servesAudience(resourceClient(), [MAIL, CRM])).toBe(true);
  });

  it('is false for a foreign audience, an empty one, or a near miss', () => {
    expect(servesAudience(resourceClient(), [MAIL])).toBe(false);
    expect(servesAudience(resourceClient(), [])).toBe(false);
    expect(servesAudience(resourceClient(), [`${CRM}/`])).toBe(false);
  });

  it('is false for a disabled resource client', () => {
    expect(servesAudience(resourceClient({ disabled: true }), [CRM])).toBe(false);
  });

  it('is false for an agent, whatever its resources', () => {
    expect(servesAudience(resourceClient({ kind: 'agent' }), [CRM])).toBe(false);
  });
});

describe('publicClient', () => {
  it('hides the secret hash and keeps everything else', () => {
    const client = resourceClient();
    const shown = publicClient(client);
    expect(shown).not.toHaveProperty('secret_hash');
    expect(JSON.stringify(shown)).not.toContain('sha256:');
    const { secret_hash: _h, ...rest } = client;
    expect(shown).toEqual(rest);
  });

  it('does not change the stored client', () => {
    const client = resourceClient();
    publicClient(client);
    expect(client.secret_hash).toMatch(/^sha256:/);
  });
});
