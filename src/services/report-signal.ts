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
    type: z.string().regex(/^[a-z][a-z0-9_.:-]{0,63}$/, 'must be a lower-case name such as ip_changed'),
    risk: z.number().int().min(0).max(100).optional(),
    context: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((s) => s.grant_id ?? s.client_id ?? s.jti, { message: 'name a grant_id, client_id or jti' });
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
  const nowSec = nowSecOf(broker);
  if (req.client_id) for (const id of await broker.grants.grantIdsOfClient(req.client_id, nowSec)) ids.add(id);
  const signal = { type: req.type, risk: req.risk, context: req.context, at: nowSec };
  const accepted: string[] = [];
  for (const { grant } of await broker.grants.getMany([...ids])) {
    if (caller && !grant.granted.some((e) => e.locations.some((l) => caller.resources.includes(l)))) continue;
    if (await broker.grants.addSignal(grant.id, signal)) accepted.push(grant.id);
  }
  if (caller && ids.size > 0 && accepted.length === 0) throw new ProblemError(403, 'Forbidden', 'the signal names no grant that reaches your resources');
  const cause = `signal:${req.type}`;
  const summary = await reevaluateGrants(broker, accepted.slice(0, INLINE_LIMIT), cause);
  if (accepted.length > INLINE_LIMIT) await broker.reevaluator.enqueue(accepted.slice(INLINE_LIMIT), cause);
  return { accepted: accepted.length, reevaluated: summary };
}
