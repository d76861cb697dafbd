// Helpers for the action-time decision tests: AuthZEN calls, decision and grant views, CIBA polling through oauth4webapi.
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import * as oauth from 'oauth4webapi';
import { admin, basicAuth, type Credentials, type HttpResult } from './broker.ts';

const ROOT = resolve(import.meta.dirname, '../..');

/** The `policy:` config line pointing at the repository's default policy set and schema. */
export const POLICY_CONFIG = `policy: { dir: ${JSON.stringify(resolve(ROOT, 'config/policies'))}, schema: ${JSON.stringify(resolve(ROOT, 'config/schema.cedarschema'))} }`;

export interface EvaluationBody {
  decision: boolean;
  context?: {
    decision_id?: string;
    reason_admin?: { code?: string; en?: string; policies?: string[] };
  };
  evaluations?: EvaluationBody[];
}

/** POSTs JSON (or `raw` text) to an AuthZEN endpoint; `auth` null sends no Authorization header. */
export async function postAuthzen(
  base: string,
  path: '/access/v1/evaluation' | '/access/v1/evaluations',
  body: unknown,
  auth: string | null,
  contentType = 'application/json',
): Promise<HttpResult<EvaluationBody>> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (auth) headers.authorization = auth;
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = {};
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { raw: text };
  }
  return { status: res.status, headers: res.headers, body: parsed as EvaluationBody, text };
}

/** One AuthZEN evaluation request body, as the contract shows it. */
export function evaluationRequest(
  subjectId: string,
  token: string,
  action: string,
  resourceId: string,
  step?: string,
) {
  return {
    subject: { type: 'agent', id: subjectId, properties: { token } },
    action: { name: action },
    resource: { type: 'resource', id: resourceId },
    context: { ip: '203.0.113.9', ...(step !== undefined ? { step } : {}) },
  };
}

/** A resource client's single evaluation. */
export function evaluate(base: string, resource: Credentials, body: unknown) {
  return postAuthzen(base, '/access/v1/evaluation', body, basicAuth(resource));
}

export interface DecisionRecordView {
  id: string;
  at_ms: number;
  kind: string;
  outcome: string;
  reasons: string[];
  client_id?: string;
  grant_id?: string;
  policy_version?: number;
  seq: number;
  chain: string;
  inputs: Record<string, unknown>;
}

/** Decision records of one grant, oldest first. */
export async function decisionsOfGrant(
  base: string,
  grantId: string,
): Promise<DecisionRecordView[]> {
  const res = await admin<{ decisions: DecisionRecordView[] }>(
    base,
    'GET',
    `/admin/decisions?grant_id=${encodeURIComponent(grantId)}&limit=1000`,
  );
  if (res.status !== 200) throw new Error(`decisions: ${res.status} ${res.text}`);
  return res.body.decisions;
}

/** The newest `limit` decision records of the broker, newest first. */
export async function latestDecisions(base: string, limit = 200): Promise<DecisionRecordView[]> {
  const res = await admin<{ decisions: DecisionRecordView[] }>(
    base,
    'GET',
    `/admin/decisions?limit=${limit}`,
  );
  if (res.status !== 200) throw new Error(`decisions: ${res.status} ${res.text}`);
  return res.body.decisions;
}

export interface GrantView {
  id: string;
  client_id: string;
  task_id: string;
  status: string;
  reason?: string;
  expires_at: number;
  granted: Array<{ task_id: string; actions: string[]; locations: string[] }>;
  context: { approved?: boolean; ip?: string };
  policy_version: number;
  history: DecisionRecordView[];
}

export async function grantView(base: string, id: string): Promise<GrantView> {
  const res = await admin<GrantView>(base, 'GET', `/admin/grants/${encodeURIComponent(id)}`);
  if (res.status !== 200) throw new Error(`grant ${id}: ${res.status} ${res.text}`);
  return res.body;
}

/** The (unverified) claims of a JWT, for looking at what was issued. */
export function claimsOf(jwt: string): Record<string, unknown> & {
  exp: number;
  grant_id: string;
  authorization_details: Array<{ actions: string[]; locations: string[]; task_id: string }>;
} {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString());
}

/** Every action granted across the entries. */
export function actionsOf(
  entries: ReadonlyArray<{ actions: readonly string[] }> | undefined,
): string[] {
  return [...new Set((entries ?? []).flatMap((e) => e.actions))].sort();
}

export type PollResult =
  | { ok: true; tokens: oauth.TokenEndpointResponse }
  | { ok: false; error: string; status: number };

/**
 * An agent's CIBA poller built on oauth4webapi: the authorization server comes from RFC 8414
 * discovery, the agent authenticates with client_secret_basic.
 */
export async function cibaPoller(
  base: string,
  agent: Credentials,
): Promise<(authReqId: string) => Promise<PollResult>> {
  const issuer = new URL(base);
  const as = await oauth.processDiscoveryResponse(
    issuer,
    await oauth.discoveryRequest(issuer, {
      algorithm: 'oauth2',
      [oauth.allowInsecureRequests]: true,
    }),
  );
  const client: oauth.Client = { client_id: agent.client_id };
  const auth = oauth.ClientSecretBasic(agent.client_secret);
  return async (authReqId) => {
    const response = await oauth.backchannelAuthenticationGrantRequest(
      as,
      client,
      auth,
      authReqId,
      {
        [oauth.allowInsecureRequests]: true,
      },
    );
    try {
      return {
        ok: true,
        tokens: await oauth.processBackchannelAuthenticationGrantResponse(as, client, response),
      };
    } catch (err) {
      if (err instanceof oauth.ResponseBodyError)
        return { ok: false, error: err.error, status: err.status };
      throw err;
    }
  };
}

/**
 * The agent polls an approved request (as a CIBA client does, one interval apart, a few times)
 * until it gets its tokens; returns the last answer.
 */
export async function pollUntilIssued(
  base: string,
  agent: Credentials,
  authReqId: string,
  intervalSec: number,
): Promise<PollResult> {
  const poll = await cibaPoller(base, agent);
  let result = await poll(authReqId);
  for (let i = 0; i < 5 && !result.ok; i++) {
    await sleep(intervalSec * 1000 + 150);
    result = await poll(authReqId);
  }
  return result;
}
