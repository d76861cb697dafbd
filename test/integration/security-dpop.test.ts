// The DPoP attack catalogue at the token endpoint, the refresh grant and AuthZEN evaluation: refused, nothing stored, nothing logged.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  type AttackProof,
  buildAttackProofs,
  makeProof,
  type ProofKey,
  proofKey,
} from '../support/attack-proofs.ts';
import {
  admin,
  basicAuth,
  CRM,
  type Credentials,
  createClients,
  deleteKeysUnder,
  keysUnder,
  oauthPost,
  task,
} from '../support/broker.ts';
import { uniquePrefix } from '../support/prefix.ts';
import { type BrokerProcess, spawnBrokerProcess } from '../support/spawn-broker-process.ts';

/** Keys that a refused request may still move: rate-limit counters (and usage of evaluations). */
const isCounter = (key: string) => /:rate:|:used:|:calls$|:denied$|:hist$/.test(key);
const CALL = { method: 'GET', uri: `${CRM}/contacts/42` };

describe('DPoP attack proofs', () => {
  const redisUrl = inject('redisUrl');
  const prefix = uniquePrefix('dpop-attacks');
  let proc: BrokerProcess;
  let base: string;
  let agent: Credentials;
  let resource: Credentials;
  let key: ProofKey;
  let redis: Redis;
  /** Every proof and token these tests sent: none may show up in a log line or a decision record. */
  const secrets: string[] = [];

  const stored = async () => ({
    keys: (await keysUnder(redisUrl, prefix)).filter((k) => !isCounter(k)),
    records: await redis.xlen(`${prefix}decisions`),
  });
  const tokenRequest = (params: Record<string, string>, proof: string) => {
    secrets.push(proof);
    return oauthPost(base, '/oauth/token', params, agent, 'basic', { DPoP: proof });
  };
  const mintParams = () => ({
    grant_type: 'client_credentials',
    authorization_details: JSON.stringify([task(['read'], { taskId: 'T-dpop-attack' })]),
  });
  /** Each attack proof must get `code` (400), with a body that does not echo it. */
  const refusedAll = async (
    attacks: AttackProof[],
    params: () => Record<string, string>,
  ): Promise<string[]> => {
    const wrong: string[] = [];
    for (const { name, proof } of attacks) {
      const res = await tokenRequest(params(), proof);
      if (res.status !== 400 || res.body.error !== 'invalid_dpop_proof')
        wrong.push(`${name}: ${res.status} ${String(res.body.error)}`);
      else if (proof.trim() && res.text.includes(proof.trim())) wrong.push(`${name}: echoed`);
    }
    return wrong;
  };

  beforeAll(async () => {
    proc = await spawnBrokerProcess({ redisUrl, prefix, env: { MANDATE_LOG_LEVEL: 'debug' } });
    base = proc.url;
    ({ agent, resource } = await createClients(base));
    key = await proofKey();
    redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });

  afterAll(async () => {
    redis?.disconnect();
    await proc?.stop();
    await deleteKeysUnder(redisUrl, prefix);
  });

  it('the token endpoint refuses every attack proof with invalid_dpop_proof and stores nothing', async () => {
    const attacks = await buildAttackProofs(key, { method: 'POST', url: `${base}/oauth/token` });
    expect(attacks.length).toBeGreaterThan(40);
    const before = await stored();
    expect(await refusedAll(attacks, mintParams)).toEqual([]);
    expect(await stored()).toEqual(before);
  });

  it('a replayed proof is refused and changes nothing', async () => {
    const proof = await makeProof(key, { method: 'POST', url: `${base}/oauth/token` });
    const first = await tokenRequest(mintParams(), proof);
    expect(first.status, first.text).toBe(200);
    secrets.push(first.body.access_token as string, first.body.refresh_token as string);
    const before = await stored();
    const replay = await tokenRequest(mintParams(), proof);
    expect(replay.status).toBe(400);
    expect(replay.body.error).toBe('invalid_dpop_proof');
    expect(await stored()).toEqual(before);
  });

  it('a bound refresh token refuses attack proofs, another key and no proof, rotating nothing', async () => {
    const minted = await tokenRequest(
      mintParams(),
      await makeProof(key, { method: 'POST', url: `${base}/oauth/token` }),
    );
    expect(minted.status).toBe(200);
    const refreshToken = minted.body.refresh_token as string;
    secrets.push(minted.body.access_token as string, refreshToken);
    const params = () => ({ grant_type: 'refresh_token', refresh_token: refreshToken });
    const attacks = await buildAttackProofs(key, { method: 'POST', url: `${base}/oauth/token` });
    attacks.push({
      name: 'another-key',
      proof: await makeProof(await proofKey(), { method: 'POST', url: `${base}/oauth/token` }),
    });
    const before = await stored();
    expect(await refusedAll(attacks, params)).toEqual([]);
    const bare = await oauthPost(base, '/oauth/token', params(), agent);
    expect(bare.body.error).toBe('invalid_dpop_proof');
    expect(await stored()).toEqual(before);
    // The refresh token was never rotated: the key's own proof still refreshes it.
    const ok = await tokenRequest(
      params(),
      await makeProof(key, { method: 'POST', url: `${base}/oauth/token` }),
    );
    expect(ok.status, ok.text).toBe(200);
    secrets.push(ok.body.access_token as string, ok.body.refresh_token as string);
  });

  it('AuthZEN evaluation of a bound token is false for every attack proof', async () => {
    const minted = await tokenRequest(
      mintParams(),
      await makeProof(key, { method: 'POST', url: `${base}/oauth/token` }),
    );
    const token = minted.body.access_token as string;
    secrets.push(token);
    const attacks = await buildAttackProofs(key, {
      method: CALL.method,
      url: CALL.uri,
      accessToken: token,
    });
    const allowed: string[] = [];
    for (const { name, proof } of attacks) {
      secrets.push(proof);
      const res = await fetch(`${base}/access/v1/evaluation`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: basicAuth(resource) },
        body: JSON.stringify({
          subject: { type: 'agent', id: agent.client_id, properties: { token, dpop: proof } },
          action: { name: 'read' },
          resource: { type: 'resource', id: CRM },
          context: { http: CALL },
        }),
      });
      const body = (await res.json()) as { decision?: boolean };
      if (res.status !== 200 || body.decision !== false) allowed.push(`${name}: ${res.status}`);
    }
    expect(allowed).toEqual([]);
  });

  it('no proof or token text appears in the logs or the decision records', async () => {
    const records = await admin(
      base,
      'GET',
      `/admin/decisions?client_id=${agent.client_id}&limit=1000`,
    );
    expect(records.status).toBe(200);
    const output = proc.output();
    expect(output.length).toBeGreaterThan(0);
    const leaked = secrets
      .map((s) => s.trim())
      .filter((s) => s.length > 20)
      .flatMap((s) => s.split(', '))
      .filter((s) => output.includes(s) || records.text.includes(s));
    expect(leaked).toEqual([]);
  });
});
