// /admin/trusted-issuers: register, list and remove the issuers whose workload tokens authenticate agents.
import { z } from 'zod';
import { TrustedIssuerIdSchema, TrustedIssuerInputSchema } from '../../domain/trusted-issuer.ts';
import {
  createTrustedIssuer,
  deleteTrustedIssuer,
  listTrustedIssuers,
} from '../../services/manage-trusted-issuers.ts';
import type { HttpDeps } from '../http-deps.ts';
import {
  ADMIN_BODY_ERRORS,
  jsonReply,
  pathParameter,
  problemReply,
  requestBody,
} from '../openapi.ts';
import { readJson, readPathId } from '../read-body.ts';
import { type AdminApp, adminRoute } from './admin-auth.ts';

const trustedIssuerId = (raw: string) => readPathId(TrustedIssuerIdSchema, raw, 'Trusted issuer');

const TrustedIssuerSchema = z
  .object({
    id: z.string(),
    issuer: z.string(),
    jwks_uri: z.string().optional(),
    jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
    audience: z.string(),
    subject_map: z
      .array(
        z.object({
          match: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
          client_id: z.string(),
        }),
      )
      .optional()
      .describe(
        "which agent a workload token authenticates; absent for an issuer of people's tokens only (token exchange, ID-JAG)",
      ),
    claims: z.array(z.string()).optional(),
  })
  .meta({ id: 'TrustedIssuer' });

const EXAMPLE = {
  id: 'github-actions',
  issuer: 'https://token.actions.githubusercontent.com',
  jwks_uri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
  audience: 'https://mandate.example.com',
  subject_map: [
    { match: { repository: 'acme/deployer', ref: 'refs/heads/main' }, client_id: 'deploy-bot' },
  ],
  claims: ['repository', 'ref', 'workflow'],
};
const TAGS = ['Admin: trusted issuers'];

const createRouteDef = adminRoute('trusted-issuers:write', {
  method: 'post',
  path: '/trusted-issuers',
  tags: TAGS,
  summary: 'Trust a workload identity issuer',
  description:
    "A Kubernetes cluster, GitHub Actions, a SPIFFE trust domain or any OIDC issuer: a token it signs (checked: signature by `jwks` or `jwks_uri`, `exp`, `iss`, `aud` containing `audience`) authenticates the agent named by the first `subject_map` rule whose `match` claims all equal the token's, as `client_assertion` or with the JWT bearer grant. `claims` names the token claims policy sees in `context.workload.claims`. The same issuer's tokens for people serve token exchange (`subject_token`) and ID-JAG assertions; an issuer of people's tokens only leaves `subject_map` out. 409 when the id or the issuer is already registered.",
  responses: {
    201: jsonReply('created', TrustedIssuerSchema, EXAMPLE),
    ...ADMIN_BODY_ERRORS,
    409: problemReply('the id or the issuer is taken'),
  },
});

const listRouteDef = adminRoute('trusted-issuers:read', {
  method: 'get',
  path: '/trusted-issuers',
  tags: TAGS,
  summary: 'List trusted issuers',
  description: 'Every trusted issuer, from the config file and the admin API.',
  responses: {
    200: jsonReply(
      'the trusted issuers',
      z.object({ trusted_issuers: z.array(TrustedIssuerSchema) }).meta({ id: 'TrustedIssuerList' }),
      { trusted_issuers: [EXAMPLE] },
    ),
  },
});

const deleteRouteDef = adminRoute('trusted-issuers:write', {
  method: 'delete',
  path: '/trusted-issuers/{id}',
  tags: TAGS,
  summary: 'Stop trusting an issuer',
  description:
    'Its tokens authenticate nobody from now on; grants already minted keep running (disable the agent to stop them). An entry from the config file comes back at the next start.',
  parameters: [pathParameter('id', 'trusted issuer id')],
  responses: {
    200: jsonReply(
      'removed',
      z.object({ deleted: z.string() }).meta({ id: 'TrustedIssuerDeleted' }),
      { deleted: 'github-actions' },
    ),
    404: problemReply('no such trusted issuer'),
  },
});

/** Registers its routes on the admin sub-app (errors go to its problem+json renderer). */
export function registerTrustedIssuers(app: AdminApp, deps: HttpDeps): void {
  const { broker } = deps;
  const { id: _id, ...example } = EXAMPLE;
  const body = requestBody(
    app,
    'TrustedIssuerInput',
    TrustedIssuerInputSchema,
    'application/json',
    example,
  );
  app.openapi({ ...createRouteDef, request: { body } }, async (c) =>
    c.json(
      await createTrustedIssuer(
        broker,
        await readJson(c, TrustedIssuerInputSchema),
        c.var.operator.id,
      ),
      201,
    ),
  );
  app.openapi(listRouteDef, async (c) => c.json(await listTrustedIssuers(broker), 200));
  app.openapi(deleteRouteDef, async (c) =>
    c.json(
      await deleteTrustedIssuer(broker, trustedIssuerId(c.req.param('id')), c.var.operator.id),
      200,
    ),
  );
}
