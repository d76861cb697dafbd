// The client_secret_post form fields (RFC 6749 2.3.1), documented once for every form endpoint that authenticates clients.
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
};
