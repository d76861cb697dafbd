// Workload identity federation, admin side: register, list and remove trusted issuers; seed them from config.
import { randomBase64url } from '../crypto/random-id.ts';
import { ProblemError } from '../domain/errors.ts';
import { jwksUriProblem } from '../domain/key-source.ts';
import type { TrustedIssuer, TrustedIssuerInput } from '../domain/trusted-issuer.ts';
import type { Broker } from './broker.ts';

function checkJwksUri(broker: Pick<Broker, 'settings'>, input: TrustedIssuerInput): void {
  const problem =
    input.jwks_uri && jwksUriProblem(input.jwks_uri, broker.settings.jwksAllowHttpLoopback);
  if (problem)
    throw new ProblemError(400, 'Invalid trusted issuer', `jwks_uri: ${problem}`, [
      { path: 'jwks_uri', message: problem },
    ]);
}

/**
 * Registers a trusted issuer (id generated when absent); 400 for a jwks_uri that may not be
 * fetched, 409 when the id or the issuer is already registered (delete it first to change it).
 */
export async function createTrustedIssuer(
  broker: Broker,
  input: TrustedIssuerInput,
  by: string,
): Promise<TrustedIssuer> {
  checkJwksUri(broker, input);
  const entry: TrustedIssuer = { ...input, id: input.id ?? `ti_${randomBase64url(9)}` };
  const outcome = await broker.trustedIssuers.create(entry);
  if (outcome === 'id_taken')
    throw new ProblemError(409, 'Trusted issuer exists', `id ${entry.id} is taken`);
  if (outcome === 'issuer_taken')
    throw new ProblemError(409, 'Trusted issuer exists', 'this issuer is already registered');
  broker.log.info({ trusted_issuer: entry.id, issuer: entry.issuer, by }, 'trusted issuer added');
  return entry;
}

export async function listTrustedIssuers(broker: Broker) {
  return { trusted_issuers: await broker.trustedIssuers.list() };
}

export async function deleteTrustedIssuer(broker: Broker, id: string, by: string) {
  if (!(await broker.trustedIssuers.delete(id)))
    throw new ProblemError(404, 'Trusted issuer not found', 'no such trusted issuer');
  broker.log.info({ trusted_issuer: id, by }, 'trusted issuer removed');
  return { deleted: id };
}

/** Config-file issuers (`federation.issuers`), created or replaced at every start: the file is their source of truth. */
export async function seedTrustedIssuers(
  broker: Broker,
  entries: ReadonlyArray<TrustedIssuerInput & { id: string }>,
): Promise<void> {
  for (const entry of entries) await broker.trustedIssuers.put(entry);
}
