// Where a CAEP receiver may be: https only and public addresses only, unless config allows more (SSRF guard).

/** How an IP address is classified; only `public` is reachable without `caep.allow_private_targets`. */
export type AddressKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'unspecified'
  | 'reserved';

/** What config allows for receiver URLs (`caep.allow_http`, `caep.allow_private_targets`). */
export interface ReceiverTargetPolicy {
  /** Plain http URLs (tests, a receiver on the same host). */
  readonly allowHttp: boolean;
  /** Loopback, private, link-local, unique-local, unspecified and reserved addresses. */
  readonly allowPrivateTargets: boolean;
}

/** The strictest policy: https, public addresses only. What a caller that passes no policy gets. */
export const STRICT_RECEIVER_TARGETS: ReceiverTargetPolicy = {
  allowHttp: false,
  allowPrivateTargets: false,
};

/** IPv4 ranges that are not public unicast (IANA special-purpose registry), most specific first. */
const V4_RANGES: ReadonlyArray<readonly [number, number, number, number, number, AddressKind]> = [
  [0, 0, 0, 0, 8, 'unspecified'], // "this network"; 0.0.0.0 connects to the local host on Linux
  [10, 0, 0, 0, 8, 'private'],
  [100, 64, 0, 0, 10, 'private'], // carrier-grade NAT, shared address space
  [127, 0, 0, 0, 8, 'loopback'],
  [169, 254, 0, 0, 16, 'link-local'], // includes the cloud metadata address 169.254.169.254
  [172, 16, 0, 0, 12, 'private'],
  [192, 0, 0, 0, 24, 'reserved'], // IETF protocol assignments
  [192, 0, 2, 0, 24, 'reserved'], // documentation
  [192, 88, 99, 0, 24, 'reserved'], // 6to4 relay anycast
  [192, 168, 0, 0, 16, 'private'],
  [198, 18, 0, 0, 15, 'reserved'], // benchmarking
  [198, 51, 100, 0, 24, 'reserved'], // documentation
  [203, 0, 113, 0, 24, 'reserved'], // documentation
  [224, 0, 0, 0, 4, 'reserved'], // multicast
  [240, 0, 0, 0, 4, 'reserved'], // reserved, and 255.255.255.255 broadcast
];

/** Parses a dotted-quad IPv4 address; undefined for anything else. */
function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return bytes;
}

/** Parses an IPv6 address (with `::`, a trailing dotted quad, an optional zone) into 16 bytes. */
function parseIpv6(text: string): number[] | undefined {
  const zoneless = text.split('%')[0] ?? '';
  if (!zoneless.includes(':')) return undefined;
  let head = zoneless;
  const tailV4: number[] = [];
  const lastColon = head.lastIndexOf(':');
  const last = head.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (!v4) return undefined;
    tailV4.push(...v4);
    head = `${head.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string) => (s === '' ? [] : s.split(':'));
  const left = groups(halves[0] ?? '');
  const right = halves.length === 2 ? groups(halves[1] ?? '') : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  const bytes: number[] = [];
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    const n = Number.parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  if (tailV4.length) bytes.splice(12, 4, ...tailV4);
  return bytes;
}

/** True when the first `bits` bits of `bytes` equal those of `prefix`. */
function inPrefix(bytes: readonly number[], prefix: readonly number[], bits: number): boolean {
  for (let i = 0; i < bits; i += 8) {
    const take = Math.min(8, bits - i);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[i / 8] ?? 0) & mask) !== ((prefix[i / 8] ?? 0) & mask)) return false;
  }
  return true;
}

function ipv4Kind(b: readonly number[]): AddressKind {
  for (const [a, b2, c, d, bits, kind] of V4_RANGES)
    if (inPrefix(b, [a, b2, c, d], bits)) return kind;
  return 'public';
}

/** IPv6: public only inside global unicast 2000::/3 and outside its special ranges (an allowlist). */
function ipv6Kind(b: readonly number[]): AddressKind {
  const zero12 = b.slice(0, 12).every((x) => x === 0);
  if (zero12) {
    const v4 = b.slice(12);
    if (v4.every((x) => x === 0)) return 'unspecified';
    if (v4[0] === 0 && v4[1] === 0 && v4[2] === 0 && v4[3] === 1) return 'loopback';
    return ipv4Kind(v4); // IPv4-compatible ::a.b.c.d (deprecated): judged by the IPv4 address it names
  }
  // IPv4-mapped ::ffff:a.b.c.d: a socket connects to the IPv4 address itself.
  if (inPrefix(b, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff], 96)) return ipv4Kind(b.slice(12));
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address; 64:ff9b:1::/48 is local use.
  if (inPrefix(b, [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0], 96)) return ipv4Kind(b.slice(12));
  if (inPrefix(b, [0, 0x64, 0xff, 0x9b, 0, 1], 48)) return 'private';
  if (inPrefix(b, [0xfc], 7)) return 'unique-local';
  if (inPrefix(b, [0xfe, 0x80], 10)) return 'link-local';
  if (inPrefix(b, [0xfe, 0xc0], 10)) return 'private'; // deprecated site-local
  if (!inPrefix(b, [0x20], 3)) return 'reserved'; // multicast, discard 100::/64, unassigned space
  // 6to4 2002::/16 tunnels to the IPv4 address in bits 16..48.
  if (inPrefix(b, [0x20, 0x02], 16)) return ipv4Kind(b.slice(2, 6));
  if (inPrefix(b, [0x20, 0x01, 0, 0], 32)) return 'reserved'; // Teredo (a tunnel to a hidden IPv4 address)
  if (inPrefix(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return 'reserved'; // documentation
  if (inPrefix(b, [0x20, 0x01, 0x00, 0x10], 28) || inPrefix(b, [0x20, 0x01, 0x00, 0x20], 28))
    return 'reserved'; // ORCHID
  return 'public';
}

/** Classifies an IP address literal (IPv4 dotted quad or IPv6, brackets allowed); undefined when it is none. */
export function addressKindOf(address: string): AddressKind | undefined {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const v4 = parseIpv4(bare);
  if (v4) return ipv4Kind(v4);
  const v6 = parseIpv6(bare);
  return v6 ? ipv6Kind(v6) : undefined;
}

/**
 * Why a resolved address may not be connected to under `policy`, or undefined when it may.
 * Anything that is not a parseable IP address is refused; `flag` names the config key that allows more.
 */
export function addressProblem(
  address: string,
  policy: Pick<ReceiverTargetPolicy, 'allowPrivateTargets'>,
  flag = 'caep.allow_private_targets',
): string | undefined {
  const kind = addressKindOf(address);
  if (kind === undefined) return 'is not an IP address';
  if (kind === 'public' || policy.allowPrivateTargets) return undefined;
  return `is a ${kind} address (${flag} is off)`;
}

/**
 * Why a receiver URL is refused under `policy`, or undefined when it may be registered. Checks
 * what the URL says by itself: scheme, credentials, an IP literal host, `localhost` names. A host
 * name is resolved and its addresses checked at every delivery (DNS can change), not here.
 */
export function receiverUrlProblem(url: string, policy: ReceiverTargetPolicy): string | undefined {
  if (!URL.canParse(url)) return 'must be an absolute URL';
  const u = new URL(url);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
  if (u.protocol === 'http:' && !policy.allowHttp)
    return 'must be an https URL (caep.allow_http is off)';
  // The URL is listed by GET /admin/receivers and logged: it must not hold a password.
  if (u.username || u.password) return 'must not carry credentials (use authorization)';
  if (policy.allowPrivateTargets) return undefined;
  const host = u.hostname.replace(/\.$/, '').toLowerCase();
  const kind = addressKindOf(host);
  if (kind !== undefined)
    return kind === 'public'
      ? undefined
      : `host is a ${kind} address (caep.allow_private_targets is off)`;
  // RFC 6761: these names are the loopback host whatever DNS says.
  if (host === 'localhost' || host.endsWith('.localhost'))
    return 'host is a loopback name (caep.allow_private_targets is off)';
  return undefined;
}
