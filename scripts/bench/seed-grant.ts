// Live grants for the sweep and memory benchmarks, stored the way a mint stores them: its mint record, the grant right behind it.
import { randomBytes } from 'node:crypto';
import { jtiFor } from '../../src/domain/access-token.ts';
import type { DecisionRecord } from '../../src/domain/decision-record.ts';
import type { Grant } from '../../src/domain/grant.ts';
import type { DecisionLog, GrantStore } from '../../src/domain/ports.ts';

/** Where and how long a bench grant lives, and how its tasks are named (the sweep's defaults). */
export interface BenchGrantShape {
  readonly location?: string;
  readonly ttlSec?: number;
  readonly taskPrefix?: string;
  readonly purpose?: string;
  readonly ip?: string;
}

/** Grant `index` of a fleet: one task per grant, read and write on one location (the CRM, an hour to live by default). */
export function benchGrant(
  index: number,
  clientId: string,
  nowSec: number,
  shape: BenchGrantShape = {},
): Grant {
  const entry = {
    type: 'agent_task' as const,
    task_id: `${shape.taskPrefix ?? 'T'}-${index}`,
    purpose: shape.purpose ?? 'weekly CRM summary',
    actions: ['read', 'write'],
    locations: [shape.location ?? 'https://crm.example.com'],
  };
  return {
    // Ids and lifetimes as mint-token.ts makes them.
    id: `g_${randomBytes(16).toString('base64url')}`,
    client_id: clientId,
    task_id: entry.task_id,
    status: 'active',
    requested: [entry],
    granted: [entry],
    context: {
      ip: shape.ip ?? '10.0.0.7',
      risk: 0,
      signals: [],
      approved: false,
      delegated: false,
      sender_constrained: false,
      groups: [],
    },
    policy_version: 1,
    created_at: nowSec,
    expires_at: nowSec + (shape.ttlSec ?? 3600),
  };
}

/** A bench broker's stores: enough to store grants as a mint does. */
type SeedStores = { readonly grants: GrantStore; readonly decisions: DecisionLog };

/**
 * Stores `grant` with its first token and refresh hash as a mint does: its mint record, the grant
 * right behind it (the grant store refuses a grant whose mint record has not landed).
 */
export function storeMintedGrant(
  broker: SeedStores,
  grant: Grant,
  token: Parameters<GrantStore['create']>[1],
  refreshHash: string,
): Promise<DecisionRecord> {
  return broker.decisions.record(
    {
      kind: 'mint',
      outcome: 'permit',
      reasons: ['bench seed'],
      client_id: grant.client_id,
      grant_id: grant.id,
      task_id: grant.task_id,
      policy_version: grant.policy_version,
      inputs: { granted: grant.granted, jti: token.jti },
    },
    { followedBy: () => broker.grants.create(grant, token, refreshHash) },
  );
}

/** Stores the grant with a first token (jti and refresh hash as issue-access-token.ts makes them). */
function seedGrant(broker: SeedStores, grant: Grant): Promise<DecisionRecord> {
  return storeMintedGrant(
    broker,
    grant,
    { jti: jtiFor(grant.id, randomBytes(12).toString('base64url')), exp: grant.created_at + 300 },
    `sha256:${randomBytes(32).toString('base64url')}`,
  );
}

/** Seeds `count` live grants (see benchGrant), spread over `agents`, a thousand at a time. */
export async function seedGrants(
  broker: SeedStores,
  count: number,
  agents: readonly string[],
  nowSec: number,
): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, count - start) }, (_, k) =>
        seedGrant(
          broker,
          benchGrant(start + k, agents[(start + k) % agents.length] as string, nowSec),
        ),
      ),
    );
  }
}
