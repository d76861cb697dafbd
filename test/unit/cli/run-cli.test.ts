// CLI commands in-process against a scripted broker: requests sent, output printed, exit codes.
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/command-context.ts';
import { runCli } from '../../../src/cli/run-cli.ts';

interface Seen {
  method: string;
  url: string;
  headers: Headers;
  body: string;
}

type Answer = { status?: number; body?: unknown; contentType?: string };

function harness(
  answer: (req: Seen) => Answer,
  env: Record<string, string> = { MANDATE_ADMIN_TOKEN: 'admin-t' },
) {
  const seen: Seen[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env,
    fetch: async (input, init = {}) => {
      const req = {
        method: init.method ?? 'GET',
        url: String(input),
        headers: new Headers(init.headers as ConstructorParameters<typeof Headers>[0]),
        body: typeof init.body === 'string' ? init.body : '',
      };
      seen.push(req);
      const a = answer(req);
      const status = a.status ?? 200;
      return new Response(a.body === undefined ? null : JSON.stringify(a.body), {
        status,
        headers: {
          'content-type':
            a.contentType ?? (status >= 400 ? 'application/problem+json' : 'application/json'),
        },
      });
    },
    readFile: async (path) => {
      if (path === 'policy.cedar') return 'permit(principal, action, resource);';
      throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    },
  };
  const run = (...argv: string[]) =>
    runCli(argv, io, async () => {
      throw new Error('start not expected');
    });
  return { run, seen, out, err };
}

describe('mandate clients', () => {
  it('add sends the registration and prints the secret once', async () => {
    const h = harness(() => ({
      status: 201,
      body: {
        client_id: 'agent-1',
        name: 'Bot',
        kind: 'agent',
        groups: ['crm', 'eu'],
        client_secret: 'S3CRET',
      },
    }));
    const code = await h.run(
      'clients',
      'add',
      '--name',
      'Bot',
      '--kind',
      'agent',
      '--groups',
      'crm,eu',
      '--attr',
      'level=3',
      '--attr',
      'team=sales',
      '--attr',
      'tags=["a","b"]',
    );
    expect(code).toBe(0);
    const req = h.seen[0];
    expect(req?.method).toBe('POST');
    expect(req?.url).toBe('http://127.0.0.1:8080/admin/clients');
    expect(req?.headers.get('authorization')).toBe('Bearer admin-t');
    expect(JSON.parse(req?.body ?? '')).toEqual({
      name: 'Bot',
      kind: 'agent',
      groups: ['crm', 'eu'],
      attributes: { level: 3, team: 'sales', tags: ['a', 'b'] },
    });
    const printed = h.out.join('\n');
    expect(printed.match(/S3CRET/g)).toHaveLength(1);
    expect(printed).toContain('agent-1');
  });

  it('add registers a public client with its redirect URIs and says it has no secret', async () => {
    const h = harness(() => ({
      status: 201,
      body: { client: { client_id: 'claude-code', name: 'Claude Code', kind: 'agent' } },
    }));
    const code = await h.run(
      'clients',
      'add',
      '--name',
      'Claude Code',
      '--kind',
      'agent',
      '--auth-method',
      'none',
      '--redirect-uris',
      'http://127.0.0.1/callback,https://app.example.com/cb',
    );
    expect(code).toBe(0);
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({
      name: 'Claude Code',
      kind: 'agent',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback', 'https://app.example.com/cb'],
    });
    expect(h.out.join('\n')).toContain('public client');
  });

  it('ls prints a table from a bare array or a wrapped list, and raw JSON under --json', async () => {
    const rows = [
      { client_id: 'agent-1', name: 'Bot', kind: 'agent', groups: ['crm'], disabled: false },
    ];
    for (const body of [rows, { clients: rows }]) {
      const h = harness(() => ({ body }));
      expect(await h.run('clients', 'ls')).toBe(0);
      expect(h.out[0]?.split('\n')[0]).toMatch(
        /^CLIENT_ID\s+NAME\s+KIND\s+GROUPS\s+RESOURCES\s+DISABLED$/,
      );
      expect(h.out[0]).toMatch(/agent-1\s+Bot\s+agent\s+crm\s+-\s+no/);
    }
    const h = harness(() => ({ body: rows }));
    expect(await h.run('--json', 'clients', 'ls')).toBe(0);
    expect(JSON.parse(h.out[0] ?? '')).toEqual(rows);
  });

  it('disable patches the client; --url and --token win over the environment', async () => {
    const h = harness(() => ({ body: { client_id: 'a b' } }), {
      MANDATE_URL: 'http://env.test',
      MANDATE_ADMIN_TOKEN: 'env-t',
    });
    expect(
      await h.run(
        'clients',
        'disable',
        'a b',
        '--url',
        'https://flag.test/base',
        '--token',
        'flag-t',
      ),
    ).toBe(0);
    expect(h.seen[0]?.method).toBe('PATCH');
    expect(h.seen[0]?.url).toBe('https://flag.test/base/admin/clients/a%20b');
    expect(h.seen[0]?.headers.get('authorization')).toBe('Bearer flag-t');
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({ disabled: true });
  });

  it('exits 1 with the problem title, detail and field errors when the broker refuses', async () => {
    const h = harness(() => ({
      status: 400,
      body: {
        title: 'invalid client',
        detail: 'name is required',
        errors: [{ path: 'kind', message: 'must be agent or resource' }],
      },
    }));
    expect(await h.run('clients', 'add', '--name', 'x', '--kind', 'agent')).toBe(1);
    const msg = h.err.join('\n');
    expect(msg).toContain('HTTP 400');
    expect(msg).toContain('invalid client: name is required');
    expect(msg).toContain('kind: must be agent or resource');
  });

  it('exits 2 for an invalid --kind before sending anything', async () => {
    const h = harness(() => ({ body: {} }));
    expect(await h.run('clients', 'add', '--name', 'x', '--kind', 'robot')).toBe(2);
    expect(h.seen).toHaveLength(0);
  });
});

describe('mandate revoke, approvals, grants, decisions', () => {
  it('revoke posts exactly one target with the reason and prints the counts', async () => {
    const h = harness(() => ({ body: { revoked: { grants: 2, tokens: 5 } } }));
    expect(await h.run('revoke', '--task', 'T-1', '--reason', 'incident 42')).toBe(0);
    expect(h.seen[0]?.url).toBe('http://127.0.0.1:8080/admin/revocations');
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({ task_id: 'T-1', reason: 'incident 42' });
    expect(h.out[0]).toBe('revoked 2 grant(s), 5 token(s)');
  });

  it('revoke with two targets is a usage error', async () => {
    const h = harness(() => ({ body: {} }));
    expect(await h.run('revoke', '--grant', 'g', '--client', 'c', '--reason', 'r')).toBe(2);
    expect(h.seen).toHaveLength(0);
  });

  it('approvals ls asks for pending ones; deny sends the decision and note', async () => {
    const h = harness((req) =>
      req.method === 'GET'
        ? { body: [{ id: 'ap-1', client_id: 'agent-1', task_id: 'T-1', status: 'pending' }] }
        : { body: { status: 'denied' } },
    );
    expect(await h.run('approvals', 'ls')).toBe(0);
    expect(h.seen[0]?.url).toBe('http://127.0.0.1:8080/admin/approvals?status=pending');
    expect(h.out[0]).toContain('ap-1');
    expect(await h.run('approvals', 'deny', 'ap-1', '--note', 'not now')).toBe(0);
    expect(h.seen[1]?.url).toBe('http://127.0.0.1:8080/admin/approvals/ap-1');
    expect(JSON.parse(h.seen[1]?.body ?? '')).toEqual({ decision: 'deny', note: 'not now' });
  });

  it('grants ls passes the filters as query parameters', async () => {
    const h = harness(() => ({ body: { grants: [] } }));
    expect(await h.run('grants', 'ls', '--client', 'agent-1', '--status', 'active')).toBe(0);
    expect(h.seen[0]?.url).toBe(
      'http://127.0.0.1:8080/admin/grants?client_id=agent-1&status=active',
    );
    expect(h.out[0]).toBe('(none)');
  });

  it('decisions ls rejects a non-numeric limit with exit 2', async () => {
    const h = harness(() => ({ body: [] }));
    expect(await h.run('decisions', 'ls', '--limit', 'ten')).toBe(2);
    expect(await h.run('decisions', 'ls', '--grant', 'g-1', '--limit', '10')).toBe(0);
    expect(h.seen[0]?.url).toBe('http://127.0.0.1:8080/admin/decisions?grant_id=g-1&limit=10');
  });

  it('audit verify exits 1 on a broken chain', async () => {
    const ok = harness(() => ({ body: { ok: true, records: 12 } }));
    expect(await ok.run('audit', 'verify')).toBe(0);
    const broken = harness(() => ({
      body: {
        ok: false,
        records: 3,
        broken: { id: 'd-3', problem: 'content does not match its hash' },
      },
    }));
    expect(await broken.run('audit', 'verify')).toBe(1);
    expect(broken.out.join('\n')).toContain('content does not match its hash');
  });
});

describe('mandate policy and keys', () => {
  it('policy push sends the file text; an unreadable file is exit 2', async () => {
    const h = harness(() => ({ body: { version: 7 } }));
    expect(await h.run('policy', 'push', 'policy.cedar')).toBe(0);
    expect(h.seen[0]?.method).toBe('PUT');
    expect(JSON.parse(h.seen[0]?.body ?? '')).toEqual({
      policies: 'permit(principal, action, resource);',
    });
    expect(h.out[0]).toBe('policy version 7 in force');
    expect(await h.run('policy', 'simulate', 'missing.cedar')).toBe(2);
    expect(h.seen).toHaveLength(1);
  });

  it('keys rotate prints the new kid', async () => {
    const h = harness(() => ({ body: { kid: 'k-2' } }));
    expect(await h.run('keys', 'rotate')).toBe(0);
    expect(h.seen[0]?.url).toBe('http://127.0.0.1:8080/admin/keys/rotate');
    expect(h.out[0]).toContain('k-2');
  });
});

describe('mandate token get and introspect', () => {
  it('token get sends client_credentials with an agent_task entry and client_secret_basic', async () => {
    const h = harness(
      () => ({
        body: { access_token: 'AT', token_type: 'Bearer', grant_id: 'g-1', refresh_token: 'RT' },
      }),
      {},
    );
    const code = await h.run(
      'token',
      'get',
      '--client-id',
      'agent-1',
      '--client-secret',
      'se:cret',
      '--task',
      'T-1',
      '--action',
      'read,write',
      '--location',
      'https://crm.example.com',
      '--ttl',
      '600',
    );
    expect(code).toBe(0);
    const req = h.seen[0];
    expect(req?.url).toBe('http://127.0.0.1:8080/oauth/token');
    expect(req?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(req?.headers.get('authorization')).toBe(
      `Basic ${Buffer.from('agent-1:se%3Acret').toString('base64')}`,
    );
    const form = new URLSearchParams(req?.body);
    expect(form.get('grant_type')).toBe('client_credentials');
    expect(JSON.parse(form.get('authorization_details') ?? '')).toEqual([
      {
        type: 'agent_task',
        task_id: 'T-1',
        actions: ['read', 'write'],
        locations: ['https://crm.example.com'],
        ttl: 600,
      },
    ]);
    expect(h.out[0]).toContain('AT');
  });

  it('token get exits 1 with the OAuth error, and 2 without credentials', async () => {
    const h = harness(
      () => ({
        status: 400,
        body: { error: 'access_denied', error_description: 'no pair permitted' },
        contentType: 'application/json',
      }),
      {
        MANDATE_CLIENT_ID: 'agent-1',
        MANDATE_CLIENT_SECRET: 's',
      },
    );
    expect(
      await h.run(
        'token',
        'get',
        '--task',
        'T',
        '--action',
        'read',
        '--location',
        'https://x.example',
      ),
    ).toBe(1);
    expect(h.err.join('\n')).toContain('access_denied: no pair permitted');
    const bare = harness(() => ({ body: {} }), {});
    expect(
      await bare.run(
        'token',
        'get',
        '--task',
        'T',
        '--action',
        'read',
        '--location',
        'https://x.example',
      ),
    ).toBe(2);
    expect(bare.seen).toHaveLength(0);
  });

  it('introspect posts the token with the resource client credentials', async () => {
    const h = harness(() => ({ body: { active: false } }), {});
    expect(
      await h.run('introspect', 'TOKEN', '--client-id', 'crm-api', '--client-secret', 's'),
    ).toBe(0);
    expect(h.seen[0]?.url).toBe('http://127.0.0.1:8080/oauth/introspect');
    expect(new URLSearchParams(h.seen[0]?.body).get('token')).toBe('TOKEN');
    expect(h.out[0]).toMatch(/^active\s+false$/);
  });
});
