// Where a client's or a trusted issuer's public keys come from: an inline JWKS or a jwks_uri.
import { z } from 'zod';

/** Members that only a private or symmetric JWK carries: a registered key set holds none of them. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** Key types a signature check may use: never `oct` (a shared secret). */
const PUBLIC_KTY = new Set(['EC', 'OKP', 'RSA']);

/** An inline JWKS of public signing keys (at most 16). */
export const PublicJwksSchema = z
  .object({
    keys: z
      .array(z.record(z.string(), z.unknown()))
      .min(1)
      .max(16)
      .superRefine((keys, ctx) => {
        keys.forEach((key, i) => {
          if (typeof key.kty !== 'string' || !PUBLIC_KTY.has(key.kty))
            ctx.addIssue({ code: 'custom', path: [i, 'kty'], message: 'must be EC, OKP or RSA' });
          const secret = PRIVATE_MEMBERS.find((m) => m in key);
          if (secret)
            ctx.addIssue({
              code: 'custom',
              path: [i, secret],
              message: 'a private key member: register the public key only',
            });
          if (key.use !== undefined && key.use !== 'sig')
            ctx.addIssue({ code: 'custom', path: [i, 'use'], message: 'must be sig' });
        });
      }),
  })
  .strict();
export type PublicJwks = z.infer<typeof PublicJwksSchema>;

/** A JWKS URL: https, or http on a loopback host (allowed only when config says so: see jwksUriProblem). */
export const JwksUriSchema = z
  .string()
  .max(2048)
  .refine(
    (v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol),
    'must be an absolute https URL',
  );

/** Where to find the keys that verify a JWT. */
export type KeySource =
  | { readonly jwks: PublicJwks; readonly jwks_uri?: undefined }
  | { readonly jwks_uri: string; readonly jwks?: undefined };

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** True for a loopback host name or address (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

/**
 * Why a jwks_uri may not be fetched, or undefined: only https, and plain http only to a loopback
 * host when `allowHttpLoopback` (tests, a sidecar on the same host).
 */
export function jwksUriProblem(uri: string, allowHttpLoopback: boolean): string | undefined {
  if (!URL.canParse(uri)) return 'must be an absolute https URL';
  const url = new URL(uri);
  if (url.username || url.password) return 'must not carry credentials';
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && allowHttpLoopback && isLoopbackHost(url.hostname))
    return undefined;
  return allowHttpLoopback ? 'must be https (or http on a loopback host)' : 'must be https';
}
