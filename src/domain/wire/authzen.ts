// The JSON the AuthZEN endpoints answer with (OpenID AuthZEN 1.0): built by the evaluation service, documented by the routes.
import { z } from 'zod';
import { ActClaimSchema } from '../delegation.ts';

const ReasonAdminSchema = z.object({
  en: z.string().describe('why, in English'),
  code: z
    .string()
    .describe('stable reason code, e.g. outside_grant, token_revoked, foreign_resource'),
  policies: z.array(z.string()).optional().describe('@id of the Cedar policies that decided'),
});

/** One decision; every AuthZEN error keeps this shape with `decision: false`. */
export const AuthZenDecisionSchema = z
  .object({
    decision: z.boolean(),
    context: z.object({
      decision_id: z.string().optional().describe('id of the decision record'),
      reason_admin: ReasonAdminSchema.optional(),
      act: ActClaimSchema.optional().describe(
        "on a permit for a delegated token (RFC 8693): who acts, the current actor outermost; the token's sub is whom they act for",
      ),
    }),
  })
  .meta({
    id: 'AuthZenDecision',
    description: 'OpenID AuthZEN 1.0 decision; errors keep this shape with decision: false',
  });
export type AuthZenDecision = z.infer<typeof AuthZenDecisionSchema>;

/** A batch's decisions, one per evaluation, in order. */
export const AuthZenDecisionsSchema = z
  .object({ evaluations: z.array(AuthZenDecisionSchema) })
  .meta({ id: 'AuthZenDecisions' });
export type AuthZenDecisions = z.infer<typeof AuthZenDecisionsSchema>;
