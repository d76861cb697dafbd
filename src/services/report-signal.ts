// Signals: a context change for some grants, recorded on each and re-evaluated at once.
import { z } from 'zod';
import type { Client } from '../domain/client.ts';
import { ProblemError } from '../domain/errors.ts';
import { type Broker, nowSecOf } from './broker.ts';
import { reevaluateGrants } from './reevaluate-grants.ts';

const Id = z.string().min(1).max(200);

export const SignalRequestSchema = z
  .object({
    grant_id: Id.optional(),
    client_id: Id.optional(),
    jti: Id.optional(),
    type: z
      .string()
      .regex(/^[a-z][a-z0-9_.:-]{0,63}$/, 'must be a lower-case name such as ip_changed'),
    risk: z.number().int().min(0).max(100).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((s) => s.grant_id ?? s.client_id ?? s.jti, {
    message: 'name a grant_id, client_id or jti',
  });
export type SignalRequest = z.infer<typeof SignalRequestSchema>;

/** Grants re-evaluated within the request; more than this go to the worker. */
const INLINE_LIMIT = 100;

/**
 * Records the signal on every grant it names and re-evaluates them before answering, so a
 * revocation it causes is in force when the call returns. A resource client may signal only
 * grants that reach one of its resources; an admin (caller undefined) any grant.
 */
export async function reportSignal(broker: Broker, caller: Client | undefined, req: SignalRequest) {
  const ids = new Set<string>();
  if (req.grant_id) ids.add(req.grant_id);
  if (req.jti) {
    const id = await broker.grants.grantIdOfToken(req.jti);
    if (id) ids.add(id);
  }
  // Checked before anything is written: what a grant keeps of one signal is bounded.
  const contextBytes =
    req.context === undefined ? 0 : Buffer.byteLength(JSON.stringify(req.context));
  if (contextBytes > broker.settings.signalMaxContextBytes) {
    throw new ProblemError(
      400,
      'Invalid signal',
      `context: ${contextBytes} bytes of JSON, more than the ${broker.settings.signalMaxContextBytes} a signal may carry`,
    );
  }
  const nowSec = nowSecOf(broker);
  if (req.client_id)
    for (const id of await broker.grants.grantIdsOfClient(req.client_id, nowSec)) ids.add(id);
  const signal = { type: req.type, risk: req.risk, context: req.context, at: nowSec };
  const accepted: string[] = [];
  const full: string[] = [];
  for (const { grant } of await broker.grants.getMany([...ids])) {
    if (caller && !grant.granted.some((e) => e.locations.some((l) => caller.resources.includes(l))))
      continue;
    const outcome = await broker.grants.addSignal(grant.id, signal);
    if (outcome === 'added') accepted.push(grant.id);
    else if (outcome === 'too_many_types') full.push(grant.id);
  }
  if (accepted.length === 0 && full.length > 0) {
    throw new ProblemError(
      409,
      'Too many signal types',
      `type: the grant already holds the most distinct signal types; ${req.type} was not recorded`,
    );
  }
  if (caller && ids.size > 0 && accepted.length === 0)
    throw new ProblemError(
      403,
      'Forbidden',
      'the signal names no grant that reaches your resources',
    );
  const cause = `signal:${req.type}`;
  const summary = await reevaluateGrants(broker, accepted.slice(0, INLINE_LIMIT), cause);
  if (accepted.length > INLINE_LIMIT)
    await broker.reevaluator.enqueue(accepted.slice(INLINE_LIMIT), cause);
  // Grants that refused the signal (a new type beyond signals.max_types_per_grant) are named, never dropped silently.
  return {
    accepted: accepted.length,
    reevaluated: summary,
    ...(full.length ? { refused_too_many_types: full } : {}),
  };
}
