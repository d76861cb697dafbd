// The agent SDK: minting with authorization_details, refresh rotation, revocation at the end, typed errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { createMandateClient } from '../../../src/client/mandate-client.ts';
import {
  ApprovalRequiredError,
  GrantRevokedError,
  MandateError,
} from '../../../src/client/mandate-error.ts';
import { CRM, createFakeIssuer, type FakeIssuer, ISSUER, json } from './fake-issuer.ts';

const TOKEN = 'POST /oauth/token';
const REVOKE = 'POST /oauth/revoke';
const INTENT = {
  task_id: 'T-1',
  purpose: 'weekly summary',
  actions: ['read', 'write'],
  locations: [CRM],
};

let issuer: FakeIssuer;
let clockMs: number;
/** The refresh token the fake broker currently accepts; older ones are replays. */
let liveRefresh: string;
let issued: number;
let grantedActions: string[];

function tokenResponse() {
  issued += 1;
  liveRefresh = `rt-${issued}`;
  return json({
    access_token: `at-${issued}`,
    token_type: 'Bearer',
    expires_in: 60,
    refresh_token: liveRefresh,
    grant_id: 'g-1',
    authorization_details: [
      { type: 'agent_task', task_id: 'T-1', actions: grantedActions, locations: [CRM] },
    ],
  });
}

beforeEach(async () => {
  issuer = await createFakeIssuer();
  clockMs = 1_700_000_000_000;
  issued = 0;
  grantedActions = ['read', 'write'];
  issuer.on(TOKEN, (req) => {
    const grant = req.form.get('grant_type');
    if (grant === 'client_credentials') return tokenResponse();
    if (grant === 'refresh_token') {
      return req.form.get('refresh_token') === liveRefresh
        ? tokenResponse()
        : json({ error: 'invalid_grant' }, 400);
    }
    return json({ error: 'unsupported_grant_type' }, 400);
  });
  issuer.on(REVOKE, () => new Response(null, { status: 200 }));
});

const clientOf = () =>
  createMandateClient({
    issuer: ISSUER,
    clientId: 'agent-1',
    clientSecret: 'agent-secret',
    fetch: issuer.fetch,
    refreshSkewSec: 20,
    now: () => clockMs,
  });

describe('createMandateClient withTask', () => {
  it('asks for an agent_task grant with client_secret_basic and revokes its refresh token at the end', async () => {
    const result = await clientOf().withTask(INTENT, async (task) => {
      expect(task.grantId).toBe('g-1');
      expect(task.taskId).toBe('T-1');
      expect(await task.getToken()).toBe('at-1');
      return 42;
    });
    expect(result).toBe(42);
    const mint = issuer.seen.find((r) => r.path === '/oauth/token');
    expect(mint?.form.get('grant_type')).toBe('client_credentials');
    expect(JSON.parse(mint?.form.get('authorization_details') ?? '[]')).toEqual([
      { type: 'agent_task', ...INTENT },
    ]);
    const basic = Buffer.from(
      (mint?.headers.get('authorization') ?? '').replace(/^Basic /, ''),
      'base64',
    ).toString();
    expect(basic.split(':').map(decodeURIComponent)).toEqual(['agent-1', 'agent-secret']);
    const revoke = issuer.seen.find((r) => r.path === '/oauth/revoke');
    expect(revoke?.form.get('token')).toBe('rt-1');
    expect(revoke?.form.get('token_type_hint')).toBe('refresh_token');
  });

  it('revokes the grant and rethrows when the callback throws', async () => {
    const boom = new Error('tool failed');
    await expect(
      clientOf().withTask(INTENT, async () => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(issuer.count(REVOKE)).toBe(1);
  });

  it('reports a failed revocation after a successful callback: the grant is still live', async () => {
    issuer.on(REVOKE, () => json({ error: 'temporarily_unavailable' }, 503));
    await expect(clientOf().withTask(INTENT, () => 'done')).rejects.toMatchObject({
      code: 'revocation_failed',
    });
  });

  it('refreshes shortly before expiry, keeps the newest refresh token and shows the narrowed grant', async () => {
    await clientOf().withTask(INTENT, async (task) => {
      clockMs += 39_000; // 60 s token, 20 s skew: still fresh
      expect(await task.getToken()).toBe('at-1');
      clockMs += 2_000;
      grantedActions = ['read'];
      expect(await task.getToken()).toBe('at-2');
      expect(task.authorizationDetails[0]?.actions).toEqual(['read']);
      clockMs += 41_000;
      expect(await task.getToken()).toBe('at-3');
    });
    const refreshes = issuer.seen.filter((r) => r.form.get('grant_type') === 'refresh_token');
    expect(refreshes.map((r) => r.form.get('refresh_token'))).toEqual(['rt-1', 'rt-2']);
    expect(issuer.seen.find((r) => r.path === '/oauth/revoke')?.form.get('token')).toBe('rt-3');
  });

  it('sends one refresh for concurrent callers', async () => {
    await clientOf().withTask(INTENT, async (task) => {
      clockMs += 50_000;
      const tokens = await Promise.all([task.getToken(), task.getToken(), task.getToken()]);
      expect(tokens).toEqual(['at-2', 'at-2', 'at-2']);
    });
    expect(issuer.seen.filter((r) => r.form.get('grant_type') === 'refresh_token')).toHaveLength(1);
  });

  it('throws GrantRevokedError once the refresh is refused, without asking again', async () => {
    await clientOf().withTask(INTENT, async (task) => {
      issuer.on(TOKEN, () =>
        json({ error: 'invalid_grant', error_description: 'grant revoked' }, 400),
      );
      clockMs += 50_000;
      const err = await task.getToken().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GrantRevokedError);
      expect(err).toBeInstanceOf(MandateError);
      expect(err).toMatchObject({ code: 'grant_revoked', error: 'invalid_grant', grantId: 'g-1' });
      const before = issuer.count(TOKEN);
      await expect(task.getToken()).rejects.toBeInstanceOf(GrantRevokedError);
      expect(issuer.count(TOKEN)).toBe(before);
    });
    expect(issuer.count(REVOKE)).toBe(0);
  });

  it('keeps serving a still-valid token when a refresh fails for a transient reason', async () => {
    await clientOf().withTask(INTENT, async (task) => {
      issuer.on(TOKEN, () => json({ error: 'temporarily_unavailable' }, 503));
      clockMs += 50_000;
      expect(await task.getToken()).toBe('at-1');
      clockMs += 11_000;
      await expect(task.getToken()).rejects.toMatchObject({ code: 'unavailable' });
    });
  });
});

describe('createMandateClient refusals', () => {
  it('throws MandateError with the OAuth code when policy denies everything', async () => {
    issuer.on(TOKEN, () => json({ error: 'access_denied' }, 400));
    const err = await clientOf()
      .withTask(INTENT, () => 'never')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MandateError);
    expect(err).toMatchObject({ code: 'request_refused', error: 'access_denied', status: 400 });
  });

  it('throws ApprovalRequiredError carrying auth_req_id, or waits for the approver when asked', async () => {
    issuer.on(TOKEN, (req) => {
      if (req.form.get('grant_type') === 'client_credentials') {
        return json(
          { error: 'approval_required', auth_req_id: 'ar-1', expires_in: 30, interval: 1 },
          400,
        );
      }
      if (
        req.form.get('grant_type') === 'urn:openid:params:grant-type:ciba' &&
        req.form.get('auth_req_id') === 'ar-1'
      ) {
        return issuer.count(TOKEN) < 3
          ? json({ error: 'authorization_pending' }, 400)
          : tokenResponse();
      }
      return json({ error: 'invalid_grant' }, 400);
    });
    const err = await clientOf()
      .withTask(INTENT, () => 'never')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApprovalRequiredError);
    expect(err).toMatchObject({
      code: 'approval_required',
      authReqId: 'ar-1',
      expiresInSec: 30,
      intervalSec: 1,
    });

    const realClient = createMandateClient({
      issuer: ISSUER,
      clientId: 'agent-1',
      clientSecret: 'x',
      fetch: issuer.fetch,
    });
    const out = await realClient.withTask(INTENT, async (task) => task.getToken(), {
      awaitApproval: true,
    });
    expect(out).toBe('at-1');
  });

  it('maps an unreachable broker to code unavailable', async () => {
    const client = createMandateClient({
      issuer: ISSUER,
      clientId: 'a',
      clientSecret: 'b',
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    await expect(client.startTask(INTENT)).rejects.toMatchObject({ code: 'unavailable' });
  });
});
