// Operator tokens: create (shown once), list, revoke, and the one generated at a first start.
import { randomBase64url } from '../crypto/random-id.ts';
import { ProblemError } from '../domain/errors.ts';
import {
  BOOTSTRAP_OPERATOR_ID,
  type Operator,
  type OperatorToken,
  type OperatorTokenInput,
} from '../domain/operator.ts';
import { type Broker, nowSecOf } from './broker.ts';

/** A new operator bearer token: 256 bits, prefixed so a leaked one is recognisable. */
const newToken = () => `mat_${randomBase64url(32)}`;
const newId = () => `op_${randomBase64url(12)}`;

/** The created token: its record plus the token itself, shown this once. */
export type CreatedOperatorToken = OperatorToken & { readonly token: string };

/** Creates an operator token with the given roles; recorded as a decision naming who created it. */
export async function createOperatorToken(
  broker: Pick<Broker, 'operators' | 'decisions' | 'clock'>,
  input: OperatorTokenInput,
  by: Operator,
): Promise<CreatedOperatorToken> {
  const nowSec = nowSecOf(broker);
  const record: OperatorToken = {
    id: newId(),
    name: input.name,
    roles: input.roles,
    created_at: nowSec,
    expires_at: input.ttl === undefined ? null : nowSec + input.ttl,
    created_by: by.id,
  };
  const token = newToken();
  await broker.operators.add(token, record);
  await broker.decisions.record({
    kind: 'operator',
    outcome: 'token_created',
    reasons: [],
    inputs: { by: by.id, operator: record },
  });
  return { ...record, token };
}

/** Every live operator token (never the token, nor its hash). */
export function listOperatorTokens(broker: Pick<Broker, 'operators' | 'clock'>) {
  return broker.operators.list(nowSecOf(broker));
}

/** Revokes a stored operator token at once; 404 for an unknown id, 409 for the configured bootstrap. */
export async function revokeOperatorToken(
  broker: Pick<Broker, 'operators' | 'decisions'>,
  id: string,
  by: Operator,
): Promise<{ revoked: string }> {
  if (id === BOOTSTRAP_OPERATOR_ID)
    throw new ProblemError(
      409,
      'Configured credential',
      'the bootstrap credential is MANDATE_ADMIN_TOKEN (admin.token): remove it from the configuration to retire it',
    );
  if (id.length > 64 || !(await broker.operators.revoke(id)))
    throw new ProblemError(404, 'Operator token not found', `no operator token ${id.slice(0, 64)}`);
  await broker.decisions.record({
    kind: 'operator',
    outcome: 'token_revoked',
    reasons: [],
    inputs: { by: by.id, operator_id: id },
  });
  return { revoked: id };
}

/**
 * The first start's admin token: generated and stored only when no operator credential exists
 * (none configured, none stored); undefined otherwise. Returned once for the caller to print.
 */
export async function bootstrapOperatorToken(
  broker: Pick<Broker, 'operators' | 'clock'>,
  configured: boolean,
): Promise<CreatedOperatorToken | undefined> {
  if (configured) return undefined;
  const record: OperatorToken = {
    id: newId(),
    name: 'generated at first start',
    roles: ['admin'],
    created_at: nowSecOf(broker),
    expires_at: null,
    created_by: 'system',
  };
  const token = newToken();
  return (await broker.operators.addIfNone(token, record)) ? { ...record, token } : undefined;
}
