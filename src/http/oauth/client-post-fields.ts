// The client authentication form fields (RFC 6749 2.3.1 client_secret_post, RFC 7523 2.2 client assertions), documented once for every form endpoint.
import { z } from 'zod';

/** `client_id` and `client_secret` in the form body, the alternative to HTTP Basic. */
export const CLIENT_POST_FIELDS = {
  client_id: z
    .string()
    .optional()
    .describe('client_secret_post: the client id (omit with HTTP Basic)'),
  client_secret: z
    .string()
    .optional()
    .describe('client_secret_post: the client secret (omit with HTTP Basic)'),
  client_assertion_type: z
    .string()
    .optional()
    .describe(
      'RFC 7523 client assertion: urn:ietf:params:oauth:client-assertion-type:jwt-bearer (no HTTP Basic, no client_secret)',
    ),
  client_assertion: z
    .string()
    .optional()
    .describe(
      "a JWT signed by the client's registered key (private_key_jwt: iss = sub = client_id, aud = the issuer or this endpoint, exp within 5 min, single-use jti; ES256, EdDSA, PS256 or RS256), or a workload token of a trusted issuer",
    ),
};
