// A batch evaluation's shared context, recorded once for all of its decisions to name.
import type { Client } from '../domain/client.ts';
import type { SharedInputsRef } from '../domain/decision-record.ts';
import type { Broker } from './broker.ts';

/**
 * Records the top-level `context` of a batch evaluation once, as a record of kind 'inputs', and
 * returns the reference each of the batch's decisions that uses it keeps instead of a copy: a
 * batch of 100 then stores its context once, not 100 times. The reference carries the shared
 * record's hash, which the chain check compares (see createChainVerifier). Throws
 * StoreUnavailable when it cannot be recorded (the batch then decides nothing).
 */
export function shareBatchContext(
  broker: Broker,
  caller: Client,
  context: Record<string, unknown>,
): Promise<SharedInputsRef> {
  return broker.decisions.recordShared({
    outcome: 'shared',
    reasons: ['batch_context'],
    inputs: { caller: caller.client_id, context: { ...context } },
  });
}
