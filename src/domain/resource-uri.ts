// A resource's identifier: its URI with scheme and host lower-cased and no trailing slash, compared exactly.

const AUTHORITY_URI = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s;

/**
 * The canonical form of a resource identifier (RFC 8707, RFC 9728, the MCP authorization spec):
 * scheme and host lower-cased, one trailing slash of the path removed; the rest (userinfo case,
 * port, path, query) kept as sent. A URI without an authority is returned as it is. Two
 * identifiers name the same resource when their canonical forms are equal.
 */
export function canonicalResource(uri: string): string {
  // Already canonical unless it holds an upper-case letter or a slash ending the path (the hot path).
  if (!/[A-Z]|\/$|\/[?#]/.test(uri)) return uri;
  const m = AUTHORITY_URI.exec(uri);
  if (!m) return uri;
  const [, scheme = '', authority = '', path = '', rest = ''] = m;
  const at = authority.lastIndexOf('@');
  const host =
    at < 0
      ? authority.toLowerCase()
      : authority.slice(0, at + 1) + authority.slice(at + 1).toLowerCase();
  const trimmed = path.endsWith('/') ? path.slice(0, -1) : path;
  return `${scheme.toLowerCase()}://${host}${trimmed}${rest}`;
}

/** The canonical forms of `uris`, without repeats, in their first order. */
export function canonicalResources(uris: readonly string[]): string[] {
  return [...new Set(uris.map(canonicalResource))];
}
