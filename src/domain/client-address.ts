// The caller's address from the socket peer and X-Forwarded-For: the rightmost hop that is not a trusted proxy (RFC 7239 section 8).

/** An IP address; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is held as the IPv4 address it maps. */
export interface IpAddress {
  readonly family: 4 | 6;
  /** The address as an unsigned integer of 32 (IPv4) or 128 (IPv6) bits. */
  readonly value: bigint;
}

/** A CIDR range (`10.0.0.0/8`, `2001:db8::/32`); a bare address is a range of one. */
export interface IpRange {
  readonly family: 4 | 6;
  readonly network: bigint;
  readonly prefix: number;
}

/**
 * Decides whether one hop may be believed about the hop to its left. `hop` counts from the socket
 * peer (0) leftwards through X-Forwarded-For.
 */
export type HopTrust = (address: IpAddress, hop: number) => boolean;

/** `server.trust_proxy: true` without a list: the socket peer is the one proxy, whatever its address; nothing left of it is trusted. */
export const TRUST_PEER_ONLY: HopTrust = (_address, hop) => hop === 0;

/** Trusts exactly the hops whose address lies in one of `ranges`, at any depth. */
export function trustRanges(ranges: readonly IpRange[]): HopTrust {
  return (address) => ranges.some((r) => inRange(address, r));
}

/**
 * `trustRanges` of configured range texts (`server.trusted_proxies`, validated at load); undefined
 * for an empty list. Throws on a malformed range rather than trust less or more than was written.
 */
export function trustRangeTexts(texts: readonly string[]): HopTrust | undefined {
  if (texts.length === 0) return undefined;
  return trustRanges(
    texts.map((t) => {
      const r = parseIpRange(t);
      if ('error' in r) throw new Error(`trusted proxy ${r.error}`);
      return r;
    }),
  );
}

const BITS = { 4: 32, 6: 128 } as const;
const MAX_IPV4 = 0xffff_ffffn;
const MAPPED_PREFIX = 0xffffn;
/** Longest chain walked: beyond it the header is not a real proxy chain, and the walk stops (fail safe). */
const MAX_HOPS = 32;

/**
 * The client's address: [X-Forwarded-For entries..., socket peer] walked from the right, skipping
 * hops `trust` accepts; the first untrusted hop is the client. A malformed entry stops the walk at
 * the last address that was trustworthy (the proxy that sent it), and so does a chain longer than
 * 32 hops; when every hop is trusted the leftmost one is the client. Without `trust` the header is
 * ignored. Undefined only when the peer itself is unknown or not an IP.
 */
export function clientAddress(
  forwardedFor: string | undefined,
  peer: string | undefined,
  trust: HopTrust | undefined,
): string | undefined {
  let current = peer === undefined ? undefined : parseIp(peer);
  if (!current) return undefined;
  if (!trust || forwardedFor === undefined) return formatIp(current);
  let rest = forwardedFor;
  for (let hop = 0; hop < MAX_HOPS && trust(current, hop); hop++) {
    if (rest.trim() === '') break;
    const comma = rest.lastIndexOf(',');
    const next = parseForwardedEntry(rest.slice(comma + 1));
    if (!next) break;
    current = next;
    rest = comma < 0 ? '' : rest.slice(0, comma);
  }
  return formatIp(current);
}

/**
 * The key under which failures from `ip` are throttled: the address itself for IPv4, its /64 for
 * IPv6 (one host usually holds a whole /64, so rotating inside it must not reset the count).
 */
export function sourceKey(ip: string): string {
  const a = parseIp(ip);
  if (!a) return ip.slice(0, 64);
  if (a.family === 4) return formatIp(a);
  return `${formatIp({ family: 6, value: (a.value >> 64n) << 64n })}/64`;
}

/** One X-Forwarded-For entry: an address, optionally in brackets (IPv6) or with a port. */
function parseForwardedEntry(raw: string): IpAddress | undefined {
  const entry = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(entry);
  if (bracketed?.[1]) return parseIp(bracketed[1], false);
  const v4Port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(entry);
  if (v4Port?.[1]) return parseIp(v4Port[1], false);
  return parseIp(entry, false);
}

/**
 * Parses an IPv4 or IPv6 address strictly (no leading zeros in IPv4, which some parsers read as
 * octal); an IPv6 zone (`%eth0`) is dropped when `allowZone`. Undefined when malformed.
 */
export function parseIp(text: string, allowZone = true): IpAddress | undefined {
  const raw = parseRaw(text, allowZone);
  if (!raw) return undefined;
  if (raw.family === 6 && raw.value >> 32n === MAPPED_PREFIX)
    return { family: 4, value: raw.value & MAX_IPV4 };
  return raw;
}

/**
 * Parses `address[/prefix]`. A range must not have host bits set (`10.0.0.1/8` is refused: it
 * usually means a typo that would trust far more than intended). An IPv4-mapped IPv6 range with
 * a prefix of at least 96 is the IPv4 range it maps.
 */
export function parseIpRange(text: string): IpRange | { readonly error: string } {
  const slash = text.indexOf('/');
  const addressText = slash < 0 ? text : text.slice(0, slash);
  const raw = parseRaw(addressText, false);
  if (!raw) return { error: `"${text.slice(0, 64)}" is not an IPv4 or IPv6 address or CIDR range` };
  let prefix: number = BITS[raw.family];
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > BITS[raw.family])
      return { error: `"${text.slice(0, 64)}" has an invalid prefix length` };
    prefix = Number(p);
  }
  let range: IpRange = { family: raw.family, network: raw.value, prefix };
  if (raw.family === 6 && raw.value >> 32n === MAPPED_PREFIX && prefix >= 96)
    range = { family: 4, network: raw.value & MAX_IPV4, prefix: prefix - 96 };
  if (range.network !== maskOf(range.network, range.family, range.prefix))
    return { error: `"${text.slice(0, 64)}" has host bits set beyond /${prefix}` };
  return range;
}

/** True when `address` lies in `range` (an IPv4-mapped address matches IPv4 ranges). */
export function inRange(address: IpAddress, range: IpRange): boolean {
  return (
    address.family === range.family &&
    maskOf(address.value, address.family, range.prefix) === range.network
  );
}

/** The canonical text of an address: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`). */
export function formatIp(a: IpAddress): string {
  if (a.family === 4)
    return [24n, 16n, 8n, 0n].map((s) => String((a.value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) =>
    Number((a.value >> BigInt((7 - i) * 16)) & 0xffffn),
  );
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function maskOf(value: bigint, family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  const hostBits = bits - BigInt(prefix);
  return (value >> hostBits) << hostBits;
}

function parseRaw(text: string, allowZone: boolean): IpAddress | undefined {
  if (text.length === 0 || text.length > 64) return undefined;
  if (text.includes(':')) return parseIpv6(text, allowZone);
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : { family: 4, value: v4 };
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
  }
  return value;
}

function parseIpv6(input: string, allowZone: boolean): IpAddress | undefined {
  let text = input;
  const zone = text.indexOf('%');
  if (zone >= 0) {
    if (!allowZone || !/^%[A-Za-z0-9_.-]{1,32}$/.test(text.slice(zone))) return undefined;
    text = text.slice(0, zone);
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        if (v4 === undefined) return undefined;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else {
        if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return undefined;
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  if (!head || !tail) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && (halves[0] as string).includes('.')) return undefined;
  let groups: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    groups = [...head, ...Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    groups = head;
  }
  let value = 0n;
  for (const g of groups) value = (value << 16n) | BigInt(g);
  return { family: 6, value };
}
