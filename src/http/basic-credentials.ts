// HTTP Basic client credentials (RFC 6749 2.3.1): the one decoder used by client authentication and the rate limit.

/** Client id and secret as an Authorization header presents them, form-decoded, never verified here. */
export interface BasicCredentials {
  readonly clientId: string;
  readonly secret: string;
}

/** Why a header is not usable Basic credentials: another scheme (or garbage), or Basic that does not decode. */
export type BasicRefusal = 'not_basic' | 'malformed';

/**
 * Decodes `Authorization: Basic base64(form-encoded id ":" form-encoded secret)`. Returns the
 * credentials, or why they cannot be read; the caller decides what that means on its wire.
 */
export function readBasicCredentials(header: string): BasicCredentials | BasicRefusal {
  const b64 = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header.trim())?.[1];
  if (!b64) return 'not_basic';
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 1) return 'malformed';
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      secret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    return 'malformed';
  }
}

function formDecode(v: string): string {
  return decodeURIComponent(v.replace(/\+/g, ' '));
}
