// DPoP from agent to resource: the SDK's proofs at a Hono resource server guarded by mandate/hono, against a real broker.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MandateVariables, requireMandate } from '../../src/client/hono.ts';
import { createMandateClient, type MandateTaskHandle } from '../../src/client/mandate-client.ts';
import { createMandateGuard } from '../../src/client/mandate-guard.ts';
import { makeProof, proofKey } from '../support/attack-proofs.ts';
import { CRM, type Credentials, createClients, introspect } from '../support/broker.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

describe('a DPoP-bound task at a resource guarded by mandate/hono', () => {
  let broker: TestBroker;
  let agent: Credentials;
  let crm: Credentials;
  let server: ReturnType<typeof serve>;
  let rs: string;
  let task: MandateTaskHandle;
  let bearerTask: MandateTaskHandle;

  beforeAll(async () => {
    broker = await startTestBroker();
    ({ agent, resource: crm } = await createClients(broker.url));
    const guard = createMandateGuard({
      issuer: broker.issuer,
      clientId: crm.client_id,
      clientSecret: crm.client_secret,
      resource: CRM,
    });
    const app = new Hono<{ Variables: MandateVariables }>();
    app.get('/notes/:id', requireMandate({ guard, action: 'read' }), (c) =>
      c.json({ note: c.req.param('id'), agent: c.var.mandate.client_id, cnf: c.var.mandate.cnf }),
    );
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((ok) => server.once('listening', () => ok()));
    rs = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const sdk = (dpop: boolean) =>
      createMandateClient({
        issuer: broker.issuer,
        clientId: agent.client_id,
        clientSecret: agent.client_secret,
        ...(dpop ? { dpop: true as const } : {}),
      });
    task = await sdk(true).startTask({ task_id: 'T-dpop-rs', actions: ['read'], locations: [CRM] });
    bearerTask = await sdk(false).startTask({
      task_id: 'T-bearer-rs',
      actions: ['read'],
      locations: [CRM],
    });
  });

  afterAll(async () => {
    await task?.end().catch(() => undefined);
    await bearerTask?.end().catch(() => undefined);
    await new Promise((ok) => server?.close(ok));
    await broker?.close();
  });

  const get = (path: string, headers: Record<string, string>) => fetch(`${rs}${path}`, { headers });

  it('accepts the SDK-made proof, again with a fresh one (a cached permit still checks the proof)', async () => {
    const token = await task.getToken();
    expect((await introspect(broker.url, crm, token)).body).toMatchObject({ token_type: 'DPoP' });
    for (let i = 0; i < 2; i++) {
      const headers = await task.headersFor('GET', `${rs}/notes/7`);
      expect(headers.authorization).toMatch(/^DPoP /);
      const res = await get('/notes/7', headers);
      expect(res.status, await res.clone().text()).toBe(200);
      expect(await res.json()).toMatchObject({ note: '7', agent: agent.client_id });
    }
  });

  it('refuses the stolen bound token as Bearer with the DPoP challenge', async () => {
    const res = await get('/notes/7', { authorization: `Bearer ${await task.getToken()}` });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(/^DPoP /);
    expect(challenge).toContain('error="invalid_dpop_proof"');
    expect(challenge).toContain('algs="ES256 EdDSA PS256 RS256"');
  });

  it("refuses the stolen token with another key's proof, a replayed proof and a proof for another URL", async () => {
    const token = await task.getToken();
    const thief = await proofKey();
    const cases: Record<string, string>[] = [
      {
        authorization: `DPoP ${token}`,
        dpop: await makeProof(thief, { method: 'GET', url: `${rs}/notes/7`, accessToken: token }),
      },
      {
        authorization: `DPoP ${token}`,
        dpop: await makeProof(thief, { method: 'GET', url: `${rs}/notes/8`, accessToken: token }),
      },
    ];
    const replayed = await task.headersFor('GET', `${rs}/notes/9`);
    expect((await get('/notes/9', replayed)).status).toBe(200);
    cases.push(replayed);
    cases.push(await task.headersFor('GET', `${rs}/notes/other`));
    for (const headers of cases) {
      const res = await get('/notes/7', headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
    }
  });

  it('still serves Bearer tokens, and refuses an unbound token under the DPoP scheme', async () => {
    const bearer = await bearerTask.headersFor('GET', `${rs}/notes/1`);
    expect(bearer).toEqual({ authorization: expect.stringMatching(/^Bearer /) });
    expect((await get('/notes/1', bearer)).status).toBe(200);
    const res = await get('/notes/1', {
      authorization: bearer.authorization?.replace(/^Bearer/, 'DPoP') ?? '',
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
  });
});
