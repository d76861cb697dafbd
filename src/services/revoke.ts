// Revocation: a client ends its own token or grant (RFC 7009); an admin ends a token, grant, task or client.
import { InvalidToken, parseRefreshToken, refreshHashMark } from '../domain/access-token.ts';
import type { Client } from '../domain/client.ts';
import { ProblemError } from '../domain/errors.ts';
import type { RevocationResult } from '../domain/wire/admin.ts';
import { hashSecret } from './authenticate-client.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { cascadeToChildren } from './cascade-delegation.ts';

/**
 * RFC 7009: revoking the refresh token ends the grant (the task is done); revoking an access
 * token ends that token. Tokens of other clients, unknown or invalid tokens change nothing, and
 * the caller cannot tell (the endpoint answers 200 either way).
 */
export async function revokeOwnToken(
  broker: Broker,
  client: Client,
  token: string,
  hint: string | undefined,
): Promise<void> {
  const nowSec = nowSecOf(broker);
  const refresh = parseRefreshToken(token);
  if (refresh && hint !== 'access_token') {
    const grant = await broker.grants.get(refresh.grantId);
    const hash = hashSecret(refresh.secret);
    if (!grant || grant.client_id !== client.client_id) return;
    if (grant.refresh_hash !== hash && !grant.used_refresh_hashes.includes(refreshHashMark(hash)))
      return;
    const { revoked, tokens } = await broker.grants.revokeGrant(grant.id, 'task_complete', nowSec);
    // Work handed to sub-agents ends with the task, even if this grant had ended before.
    await cascadeToChildren(broker, grant.id, { kind: 'revoke', reason: 'task_complete' });
    if (!revoked) return;
    await broker.notifier.revoked(grant, 'task_complete');
    await broker.decisions.record({
      kind: 'revocation',
      outcome: 'revoke',
      reasons: ['task_complete'],
      client_id: client.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      inputs: { by: client.client_id, via: 'oauth_revoke', token_type: 'refresh_token', tokens },
    });
    broker.metrics.revocation('grant', tokens);
    return;
  }
  let claims: Awaited<ReturnType<Broker['verifier']['verify']>>;
  try {
    claims = await broker.verifier.verify(token);
  } catch (err) {
    if (err instanceof InvalidToken) return;
    throw err;
  }
  if (claims.client_id !== client.client_id) return;
  const { revoked } = await broker.grants.revokeToken(claims.jti, nowSec);
  if (!revoked) return;
  await broker.decisions.record({
    kind: 'revocation',
    outcome: 'revoke',
    reasons: ['revoked_by_client'],
    client_id: client.client_id,
    grant_id: claims.grant_id,
    inputs: {
      by: client.client_id,
      via: 'oauth_revoke',
      token_type: 'access_token',
      jti: claims.jti,
    },
  });
  broker.metrics.revocation('token', 1);
}

export type RevocationTarget =
  | { readonly jti: string }
  | { readonly grant_id: string }
  | { readonly task_id: string }
  | { readonly client_id: string };

/** Admin revocation. When it returns, Redis holds the revocation and every process answers inactive. */
export async function revokeByAdmin(
  broker: Broker,
  target: RevocationTarget,
  reason: string,
  by: string,
): Promise<RevocationResult> {
  const nowSec = nowSecOf(broker);
  let grants = 0;
  let tokens = 0;
  let grantIds: string[];
  if ('jti' in target) {
    const result = await broker.grants.revokeToken(target.jti, nowSec);
    tokens = result.revoked ? 1 : 0;
    grantIds = [];
    await broker.decisions.record({
      kind: 'revocation',
      outcome: result.revoked ? 'revoke' : 'noop',
      reasons: [reason],
      grant_id: result.grantId,
      inputs: { by, target, tokens },
    });
  } else {
    grantIds =
      'grant_id' in target
        ? [target.grant_id]
        : 'task_id' in target
          ? await broker.grants.grantIdsOfTask(target.task_id, nowSec)
          : await broker.grants.grantIdsOfClient(target.client_id, nowSec);
    for (const id of grantIds) {
      const r = await broker.grants.revokeGrant(id, reason, nowSec);
      // Every grant delegated from it goes too (walked even when it was revoked before: idempotent).
      const cascaded = await cascadeToChildren(broker, id, { kind: 'revoke', reason });
      grants += cascaded.grants;
      tokens += cascaded.tokens;
      if (!r.revoked) continue;
      const grant = await broker.grants.get(id);
      if (grant) await broker.notifier.revoked(grant, reason);
      grants += 1;
      tokens += r.tokens;
      await broker.decisions.record({
        kind: 'revocation',
        outcome: 'revoke',
        reasons: [reason],
        grant_id: id,
        client_id: 'client_id' in target ? target.client_id : undefined,
        task_id: 'task_id' in target ? target.task_id : undefined,
        inputs: { by, target, tokens: r.tokens },
      });
    }
  }
  if ('grant_id' in target && grants === 0) {
    const exists = await broker.grants.get(target.grant_id);
    if (!exists) throw new ProblemError(404, 'Grant not found', `no grant ${target.grant_id}`);
  }
  broker.metrics.revocation('admin', tokens);
  return { revoked: { grants, tokens } };
}
