// Workload identity federation over sockets: Kubernetes, GitHub Actions and SPIFFE tokens from local issuers, as client_assertion and as the JWT bearer grant, with a Cedar policy reading context.workload.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, type HttpResult, oauthPost, task } from '../support/broker.ts';
import { type LocalIssuer, startLocalIssuer } from '../support/local-issuer.ts';
import { startTestBroker, type TestBroker } from '../support/test-broker.ts';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const AUDIENCE = 'https://mandate.example.com';
const DEPLOY = 'https://deploy.example.com';
const FILES = 'https://files.example.com';

const POLICY = `
@id("workloads-read") permit(principal, action == Action::"read", resource);
@id("deploy-from-main") permit(principal, action == Action::"deploy", resource)
  when { context has workload && context.workload.claims has ref &&
         context.workload.claims.ref == "refs/heads/main" };
`;

describe('workload identity federation', () => {
  let broker: TestBroker;
  let k8s: LocalIssuer;
  let github: LocalIssuer;
  let spiffe: LocalIssuer;

  beforeAll(async () => {
    k8s = await startLocalIssuer({ alg: 'RS256' });
    github = await startLocalIssuer({ alg: 'RS256' });
    spiffe = await startLocalIssuer({ alg: 'ES256' });
    // Kubernetes comes from the config file; GitHub and SPIFFE through the admin API.
    const config = {
      federation: {
        allow_http_loopback: true,
        issuers: [
          {
            id: 'k8s-prod',
            issuer: k8s.issuer,
            jwks_uri: k8s.jwksUri,
            audience: AUDIENCE,
            subject_map: [
              { match: { sub: 'system:serviceaccount:prod:billing' }, client_id: 'billing' },
            ],
          },
        ],
      },
      clients: ['billing', 'deployer', 'svid-agent'].map((id) => ({
        client_id: id,
        name: id,
        kind: 'agent',
        token_endpoint_auth_method: 'private_key_jwt',
      })),
    };
    broker = await startTestBroker({ config: `${JSON.stringify(config)}\n` });
    expect(
      (
        await admin(broker.url, 'POST', '/admin/trusted-issuers', {
          id: 'github',
          issuer: github.issuer,
          jwks_uri: github.jwksUri,
          audience: AUDIENCE,
          subject_map: [{ match: { repository: 'acme/deployer' }, client_id: 'deployer' }],
          claims: ['repository', 'ref', 'workflow'],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await admin(broker.url, 'POST', '/admin/trusted-issuers', {
          issuer: spiffe.issuer,
          jwks: { keys: [spiffe.publicJwk] },
          audience: 'mandate',
          subject_map: [
            { match: { sub: 'spiffe://example.org/ns/prod/sa/billing' }, client_id: 'svid-agent' },
          ],
        })
      ).status,
    ).toBe(201);
    expect((await admin(broker.url, 'PUT', '/admin/policies', { policies: POLICY })).status).toBe(
      200,
    );
  });

  afterAll(async () => {
    await broker?.close();
    for (const i of [k8s, github, spiffe]) await i?.close();
  });

  const kubernetesToken = (sa = 'billing') =>
    k8s.mint({
      sub: `system:serviceaccount:prod:${sa}`,
      aud: [AUDIENCE, 'https://kubernetes.default.svc'],
      nbf: Math.floor(Date.now() / 1000),
      'kubernetes.io': { namespace: 'prod', serviceaccount: { name: sa, uid: 'c0ffee' } },
    });
  const githubToken = (ref: string) =>
    github.mint({
      sub: `repo:acme/deployer:ref:${ref}`,
      aud: AUDIENCE,
      repository: 'acme/deployer',
      repository_owner: 'acme',
      ref,
      workflow: 'deploy',
      job_workflow_ref: `acme/deployer/.github/workflows/deploy.yml@${ref}`,
    });
  const svid = (sub = 'spiffe://example.org/ns/prod/sa/billing') =>
    spiffe.mint({ sub, aud: ['mandate'] });

  const asClientAssertion = (token: string, actions: string[], location: string) =>
    oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: 'client_credentials',
        authorization_details: JSON.stringify([task(actions, { locations: [location] })]),
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: token,
      },
      undefined,
      'none',
    );
  const asGrant = (token: string, actions: string[], location: string) =>
    oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: JWT_BEARER,
        assertion: token,
        authorization_details: JSON.stringify([task(actions, { locations: [location] })]),
      },
      undefined,
      'none',
    );
  const subjectOf = (res: HttpResult) =>
    JSON.parse(
      Buffer.from(String(res.body.access_token).split('.')[1] as string, 'base64url').toString(),
    ).sub as string;

  it.each([
    ['a Kubernetes service-account token', () => kubernetesToken(), 'billing'],
    ['a GitHub Actions OIDC token', () => githubToken('refs/heads/main'), 'deployer'],
    ['a SPIFFE JWT-SVID', () => svid(), 'svid-agent'],
  ])(
    'maps %s to its agent, as client_assertion and as the jwt-bearer grant',
    async (_n, mint, agent) => {
      const token = await mint();
      const viaAssertion = await asClientAssertion(token, ['read'], FILES);
      expect(viaAssertion.status, viaAssertion.text).toBe(200);
      expect(subjectOf(viaAssertion)).toBe(agent);
      // A workload token may be presented again while it is valid.
      const viaGrant = await asGrant(token, ['read'], FILES);
      expect(viaGrant.status, viaGrant.text).toBe(200);
      expect(subjectOf(viaGrant)).toBe(agent);
    },
  );

  it('lets policy read context.workload: deploy only from refs/heads/main', async () => {
    const main = await asGrant(await githubToken('refs/heads/main'), ['deploy'], DEPLOY);
    expect(main.status, main.text).toBe(200);
    const grant = await admin<{ context?: { workload?: unknown } }>(
      broker.url,
      'GET',
      `/admin/grants/${String(main.body.grant_id)}`,
    );
    expect(JSON.stringify(grant.body)).toContain('"ref":"refs/heads/main"');
    const feature = await asGrant(await githubToken('refs/heads/feature'), ['deploy'], DEPLOY);
    expect(feature.status).toBe(400);
    expect(feature.body.error).toBe('access_denied');
    const viaAssertion = await asClientAssertion(
      await githubToken('refs/heads/feature'),
      ['deploy'],
      DEPLOY,
    );
    expect(viaAssertion.body.error).toBe('access_denied');
    // A Kubernetes workload names no ref: it may read, never deploy.
    const k8sDeploy = await asGrant(await kubernetesToken(), ['deploy'], DEPLOY);
    expect(k8sDeploy.body.error).toBe('access_denied');
  });

  it('keeps the workload on refresh (policy re-evaluated with it)', async () => {
    const token = await githubToken('refs/heads/main');
    const first = await asClientAssertion(token, ['deploy'], DEPLOY);
    expect(first.status, first.text).toBe(200);
    const next = await oauthPost(
      broker.url,
      '/oauth/token',
      {
        grant_type: 'refresh_token',
        refresh_token: String(first.body.refresh_token),
        client_assertion_type: ASSERTION_TYPE,
        client_assertion: token,
      },
      undefined,
      'none',
    );
    expect(next.status, next.text).toBe(200);
  });

  it('refuses a workload no rule maps: invalid_client as assertion, invalid_grant as grant', async () => {
    const stranger = await kubernetesToken('intruder');
    expect((await asClientAssertion(stranger, ['read'], FILES)).body.error).toBe('invalid_client');
    expect((await asGrant(stranger, ['read'], FILES)).body.error).toBe('invalid_grant');
    const otherSvid = await svid('spiffe://example.org/ns/dev/sa/billing');
    expect((await asGrant(otherSvid, ['read'], FILES)).body.error).toBe('invalid_grant');
  });

  it('fetched each remote JWKS once for all these requests', () => {
    expect(k8s.fetches()).toBe(1);
    expect(github.fetches()).toBe(1);
    expect(spiffe.fetches()).toBe(0);
  });
});
