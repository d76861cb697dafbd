// Response shapes more than one admin route answers with: decision records and shared inputs.
import { z } from 'zod';

export const DecisionRecordSchema = z
  .object({
    id: z.string(),
    at_ms: z.number().int(),
    kind: z
      .string()
      .describe(
        'mint, refresh, evaluation, reevaluation, revocation, approval, client, policy, ...',
      ),
    outcome: z.string(),
    reasons: z.array(z.string()).describe('why: policy ids and drift reasons'),
    client_id: z.string().optional(),
    grant_id: z.string().optional(),
    policy_version: z.number().int().optional(),
    inputs: z
      .record(z.string(), z.unknown())
      .describe(
        'the request, context and entities as they were (never a token or secret); a batch evaluation names its shared context as `shared_context` {record, sid, hash} instead of a copy (see `shared_inputs`), and inputs larger than audit.max_record_bytes are kept as `omitted` {bytes, sha256}',
      ),
    chain: z.string(),
    seq: z.number().int(),
    prev: z.string().describe('hash of the previous record of the chain'),
    hash: z.string(),
  })
  .loose()
  .meta({ id: 'DecisionRecord' });

export const SharedInputsSchema = z
  .record(z.string(), z.record(z.string(), z.unknown()).nullable())
  .meta({
    id: 'SharedInputs',
    description:
      'the inputs of the shared records the decisions name (`inputs.shared_context.record`), by record id; null when retention trimmed one',
  });

export const DECISION_EXAMPLE = {
  id: 'd_01HZY3KD5T2R',
  at_ms: 1767225600123,
  kind: 'evaluation',
  outcome: 'permit',
  reasons: ['allow-read-invoices'],
  client_id: 'files-api',
  grant_id: 'g_01HZY3K9Q4W8',
  policy_version: 3,
  inputs: { action: 'read', resource: 'https://files.example.com/invoices/q3.pdf' },
  chain: 'main',
  seq: 1042,
  prev: 'b3f1c2…',
  hash: '9a7e0d…',
};
