// Workload identity federation: issuers whose JWTs (Kubernetes, GitHub Actions, SPIFFE) authenticate mapped agents.
import { z } from 'zod';
import { ClientIdSchema } from './client.ts';
import { JwksUriSchema, PublicJwksSchema } from './key-source.ts';

/** Trusted-issuer ids travel in URL paths and log lines: keep them plain. */
export const TrustedIssuerIdSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be letters, digits and _ . -');

const ClaimName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be letters, digits and _');
const MatchValue = z.union([z.string().max(1024), z.number(), z.boolean()]);

/** One subject_map rule: every claim of `match` must equal the token's for `client_id` to apply. */
export const SubjectRuleSchema = z
  .object({
    match: z
      .record(ClaimName, MatchValue)
      .refine((m) => Object.keys(m).length > 0, 'must name at least one claim')
      .refine((m) => Object.keys(m).length <= 16, 'at most 16 claims'),
    client_id: ClientIdSchema,
  })
  .strict();
export type SubjectRule = z.infer<typeof SubjectRuleSchema>;

/** A trusted issuer as configured (`federation.issuers` or `POST /admin/trusted-issuers`). */
export const TrustedIssuerInputSchema = z
  .object({
    id: TrustedIssuerIdSchema.optional(),
    issuer: z
      .string()
      .max(512)
      .refine((v) => v.includes(':') && URL.canParse(v), 'must be an absolute URL'),
    jwks_uri: JwksUriSchema.optional(),
    jwks: PublicJwksSchema.optional(),
    audience: z.string().min(1).max(512),
    /** Which agent a workload token authenticates; absent for an issuer of people's tokens only (token exchange, ID-JAG). */
    subject_map: z.array(SubjectRuleSchema).min(1).max(100).optional(),
    claims: z.array(ClaimName).max(32).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.jwks === undefined) === (t.jwks_uri === undefined))
      ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: 'give jwks_uri or jwks, one' });
  });
export type TrustedIssuerInput = z.infer<typeof TrustedIssuerInputSchema>;

/** A stored trusted issuer, its id given. */
export type TrustedIssuer = TrustedIssuerInput & { readonly id: string };

export interface TrustedIssuerStore {
  list(): Promise<TrustedIssuer[]>;
  /** The entry for an `iss` value, if trusted. */
  byIssuer(issuer: string): Promise<TrustedIssuer | undefined>;
  /** Registers a new entry; nothing is written when its id or its issuer is already registered. */
  create(entry: TrustedIssuer): Promise<'created' | 'id_taken' | 'issuer_taken'>;
  /** Creates or replaces (config entries at start). */
  put(entry: TrustedIssuer): Promise<void>;
  delete(id: string): Promise<boolean>;
}

/** A claim value as Cedar sees it: a string, or a set of strings. */
export type WorkloadClaimValue = string | string[];

/** What policy sees of a workload (`context.workload`). */
export interface WorkloadContext {
  readonly issuer: string;
  readonly subject: string;
  readonly claims: Readonly<Record<string, WorkloadClaimValue>>;
}

/** The client the first matching rule names, or undefined. Scalars compare strictly; arrays never match. */
export function matchSubject(
  rules: readonly SubjectRule[],
  payload: Readonly<Record<string, unknown>>,
): string | undefined {
  return rules.find((rule) =>
    Object.entries(rule.match).every(([claim, value]) => payload[claim] === value),
  )?.client_id;
}

/**
 * The workload context of a verified token: its issuer and subject, and the entry's `claims`
 * names with their values (strings kept, numbers and booleans as text, arrays of strings as
 * sets; anything else left out).
 */
export function workloadOf(
  entry: Pick<TrustedIssuer, 'issuer' | 'claims'>,
  subject: string,
  payload: Readonly<Record<string, unknown>>,
): WorkloadContext {
  const claims: Record<string, WorkloadClaimValue> = {};
  for (const name of entry.claims ?? []) {
    const value = payload[name];
    if (typeof value === 'string') claims[name] = value.slice(0, 1024);
    else if (typeof value === 'number' || typeof value === 'boolean') claims[name] = String(value);
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      claims[name] = value.slice(0, 64).map((v) => v.slice(0, 1024));
  }
  return { issuer: entry.issuer, subject, claims };
}
