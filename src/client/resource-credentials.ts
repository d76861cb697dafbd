// How a resource client authenticates to Mandate: its secret (HTTP Basic), or private_key_jwt and a caller token.
import * as oauth from 'oauth4webapi';
import { basicCredentials } from './basic-credentials.ts';
import type { DiscoveredIssuer } from './discover-issuer.ts';
import {
  type AssertionAlgorithm,
  createAssertionSigner,
  type PrivateKeyInput,
  privateKeyJwt,
} from './private-key-jwt.ts';

/** A resource client's credentials: a secret, or a private key registered with Mandate. */
export type ResourceCredentialOptions =
  | {
      readonly clientSecret: string;
      readonly privateKey?: undefined;
    }
  | {
      readonly clientSecret?: undefined;
      /** private_key_jwt: CryptoKey, KeyObject, private JWK or PKCS#8 PEM. */
      readonly privateKey: PrivateKeyInput;
      /** The `kid` to send (default the JWK's) and the algorithm (default from the key). */
      readonly keyId?: string;
      readonly algorithm?: AssertionAlgorithm;
    };

/** Authentication towards Mandate for the form endpoints and for the JSON ones. */
export interface ResourceCredentials {
  /** For oauth4webapi (introspection, the caller token request). */
  readonly clientAuth: oauth.ClientAuth;
  /** The `Authorization` value for AuthZEN: Basic, or `Bearer <caller token>` fetched as needed. */
  authorization(d: DiscoveredIssuer): Promise<string>;
  /** Forgets a caller token Mandate refused (401), so the next call fetches a new one. */
  refused(): void;
}

/** A caller token is renewed this long before it expires. */
const RENEW_SKEW_MS = 30_000;

/**
 * Credentials of one resource client. With a private key, the JSON endpoints get a caller token
 * (`client_credentials` with `resource` = the issuer, as Mandate issues to resource clients), kept
 * until shortly before it expires; concurrent calls share one request.
 */
export function createResourceCredentials(
  clientId: string,
  options: ResourceCredentialOptions,
  settings: { readonly timeoutMs: number; readonly now: () => number },
): ResourceCredentials {
  const { timeoutMs, now } = settings;
  if (options.privateKey === undefined) {
    if (!options.clientSecret) throw new TypeError('clientSecret or privateKey is required');
    const basic = basicCredentials(clientId, options.clientSecret);
    return {
      clientAuth: oauth.ClientSecretBasic(options.clientSecret),
      authorization: async () => basic,
      refused: () => {},
    };
  }
  const clientAuth = privateKeyJwt(
    createAssertionSigner({
      clientId,
      privateKey: options.privateKey,
      algorithm: options.algorithm,
      keyId: options.keyId,
      now,
    }),
  );
  const client: oauth.Client = { client_id: clientId };
  let current: Promise<{ readonly header: string; readonly renewAtMs: number }> | undefined;

  const fetchCallerToken = async (d: DiscoveredIssuer) => {
    const askedAtMs = now();
    const response = await oauth.clientCredentialsGrantRequest(
      d.as,
      client,
      clientAuth,
      new URLSearchParams({ resource: d.as.issuer }),
      { ...d.http, signal: AbortSignal.timeout(timeoutMs) },
    );
    const token = await oauth.processClientCredentialsResponse(d.as, client, response);
    const lifetimeMs = (token.expires_in ?? 60) * 1000;
    return {
      header: `Bearer ${token.access_token}`,
      renewAtMs: askedAtMs + Math.max(lifetimeMs - RENEW_SKEW_MS, lifetimeMs / 2),
    };
  };

  return {
    clientAuth,
    async authorization(d) {
      const held = current && (await current.catch(() => undefined));
      if (held && now() < held.renewAtMs) return held.header;
      if (!current || held) {
        current = fetchCallerToken(d);
        current.catch(() => {
          current = undefined;
        });
      }
      return (await current).header;
    },
    refused() {
      current = undefined;
    },
  };
}
