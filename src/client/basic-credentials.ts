// HTTP Basic client authentication as OAuth defines it (RFC 6749 section 2.3.1).

/**
 * The `Authorization` value for a client id and secret: each is form-urlencoded before the
 * base64 step, so ids or secrets holding `:` or non-ASCII characters survive the trip.
 */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}
