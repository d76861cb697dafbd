// The caller's address behind proxies: parsing, CIDR ranges and the right-to-left X-Forwarded-For walk.
import { describe, expect, it } from 'vitest';
import { ConfigSchema } from '../../src/config/schema.ts';
import {
  clientAddress,
  formatIp,
  type IpRange,
  inRange,
  parseIp,
  parseIpRange,
  sourceKey,
  TRUST_PEER_ONLY,
  trustRanges,
} from '../../src/domain/client-address.ts';

function range(text: string): IpRange {
  const r = parseIpRange(text);
  if ('error' in r) throw new Error(r.error);
  return r;
}

const canonical = (text: string) => {
  const a = parseIp(text);
  return a ? formatIp(a) : undefined;
};

describe('parseIp', () => {
  it('reads IPv4 strictly', () => {
    expect(canonical('203.0.113.9')).toBe('203.0.113.9');
    expect(canonical('0.0.0.0')).toBe('0.0.0.0');
    expect(canonical('255.255.255.255')).toBe('255.255.255.255');
    for (const bad of [
      '256.1.1.1',
      '1.2.3',
      '1.2.3.4.5',
      '01.2.3.4',
      '1.2.3.-4',
      '1.2.3.4 ',
      ' 1.2.3.4',
      '1..3.4',
      '0x7f.0.0.1',
      '',
      'unknown',
      '1.2.3.4/8',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('reads IPv6 and prints it as RFC 5952', () => {
    expect(canonical('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonical('2001:db8::1')).toBe('2001:db8::1');
    expect(canonical('::')).toBe('::');
    expect(canonical('::1')).toBe('::1');
    expect(canonical('fe80::')).toBe('fe80::');
    expect(canonical('2001:db8:0:1:0:0:0:1')).toBe('2001:db8:0:1::1');
    expect(canonical('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonical('2001:db8:1:1:1:1:1:0')).toBe('2001:db8:1:1:1:1:1:0');
    expect(canonical('64:ff9b::192.0.2.33')).toBe('64:ff9b::c000:221');
    for (const bad of [
      ':::',
      '1:2:3:4:5:6:7:8:9',
      '1:2:3:4:5:6:7',
      '1::2::3',
      '12345::',
      'g::1',
      ':1',
      '1:',
      '1.2.3.4::',
      '::1.2.3',
      '[::1]',
      '::1%',
    ]) {
      expect(parseIp(bad), bad).toBeUndefined();
    }
  });

  it('holds an IPv4-mapped IPv6 address as its IPv4 address', () => {
    expect(parseIp('::ffff:10.1.2.3')).toEqual({ family: 4, value: 0x0a010203n });
    expect(canonical('::FFFF:0a01:0203')).toBe('10.1.2.3');
  });

  it('drops a zone id only where allowed (a socket peer, not a forwarded entry)', () => {
    expect(canonical('fe80::1%eth0')).toBe('fe80::1');
    expect(parseIp('fe80::1%eth0', false)).toBeUndefined();
  });
});

describe('parseIpRange and inRange', () => {
  it('matches IPv4 and IPv6 ranges, bare addresses as single hosts', () => {
    expect(inRange(parseIp('10.200.3.4')!, range('10.0.0.0/8'))).toBe(true);
    expect(inRange(parseIp('11.0.0.1')!, range('10.0.0.0/8'))).toBe(false);
    expect(inRange(parseIp('192.0.2.7')!, range('192.0.2.7'))).toBe(true);
    expect(inRange(parseIp('192.0.2.8')!, range('192.0.2.7'))).toBe(false);
    expect(inRange(parseIp('1.2.3.4')!, range('0.0.0.0/0'))).toBe(true);
    expect(inRange(parseIp('2001:db8:ffff::1')!, range('2001:db8::/32'))).toBe(true);
    expect(inRange(parseIp('2001:db9::1')!, range('2001:db8::/32'))).toBe(false);
    expect(inRange(parseIp('::1')!, range('::1'))).toBe(true);
  });

  it('never matches across families, except IPv4-mapped addresses, which are IPv4', () => {
    expect(inRange(parseIp('::ffff:10.0.0.1')!, range('10.0.0.0/8'))).toBe(true);
    expect(inRange(parseIp('10.0.0.1')!, range('::ffff:10.0.0.0/104'))).toBe(true);
    expect(inRange(parseIp('10.0.0.1')!, range('::/0'))).toBe(false);
    expect(inRange(parseIp('2001:db8::1')!, range('0.0.0.0/0'))).toBe(false);
  });

  it('refuses malformed ranges, bad prefixes and host bits', () => {
    for (const bad of [
      '10.0.0.0/33',
      '10.0.0.0/-1',
      '10.0.0.0/08',
      '10.0.0.0/',
      '10.0.0.1/8',
      '2001:db8::1/32',
      '::/129',
      'example.com',
      '10.0.0.0/8/8',
      '[::1]',
      '',
    ]) {
      expect(parseIpRange(bad), bad).toHaveProperty('error');
    }
  });
});

describe('clientAddress', () => {
  const proxies = trustRanges([range('10.0.0.0/8'), range('fd00::/8')]);

  it('without trust, the socket peer (a forwarded header changes nothing)', () => {
    expect(clientAddress('203.0.113.9', '198.51.100.1', undefined)).toBe('198.51.100.1');
    expect(clientAddress(undefined, '::ffff:198.51.100.1', undefined)).toBe('198.51.100.1');
    expect(clientAddress('203.0.113.9', undefined, proxies)).toBeUndefined();
    expect(clientAddress('203.0.113.9', 'not-an-ip', proxies)).toBeUndefined();
  });

  it('takes the rightmost untrusted hop: a spoofed leftmost entry is ignored', () => {
    // The agent sent "X-Forwarded-For: 203.0.113.5"; the proxy at 10.0.0.2 appended its real peer.
    expect(clientAddress('203.0.113.5, 198.51.100.9', '10.0.0.2', proxies)).toBe('198.51.100.9');
    expect(clientAddress('203.0.113.5,198.51.100.9, 10.1.1.1', '10.0.0.2', proxies)).toBe(
      '198.51.100.9',
    );
    expect(clientAddress('198.51.100.9', '10.0.0.2', proxies)).toBe('198.51.100.9');
  });

  it('ignores the header when the peer is not a trusted proxy', () => {
    expect(clientAddress('203.0.113.5', '198.51.100.200', proxies)).toBe('198.51.100.200');
  });

  it('one hop (trust_proxy without a list): the entry the peer appended, nothing further left', () => {
    expect(clientAddress('203.0.113.5, 198.51.100.9', '127.0.0.1', TRUST_PEER_ONLY)).toBe(
      '198.51.100.9',
    );
    expect(clientAddress('10.0.0.3, 10.0.0.4', '127.0.0.1', TRUST_PEER_ONLY)).toBe('10.0.0.4');
    expect(clientAddress(undefined, '127.0.0.1', TRUST_PEER_ONLY)).toBe('127.0.0.1');
  });

  it('a malformed entry stops the walk at the last trustworthy address', () => {
    expect(clientAddress('203.0.113.5, garbage', '10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('203.0.113.5, unknown, 10.0.0.3', '10.0.0.2', proxies)).toBe('10.0.0.3');
    expect(clientAddress('203.0.113.5, , 10.0.0.3', '10.0.0.2', proxies)).toBe('10.0.0.3');
    expect(clientAddress('203.0.113.5, 01.2.3.4', '10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('', '10.0.0.2', proxies)).toBe('10.0.0.2');
    expect(clientAddress('garbage', '127.0.0.1', TRUST_PEER_ONLY)).toBe('127.0.0.1');
  });

  it('every hop trusted: the leftmost (earliest known) hop', () => {
    expect(clientAddress('10.0.0.9, 10.0.0.3', '10.0.0.2', proxies)).toBe('10.0.0.9');
  });

  it('reads IPv6, bracketed and ported entries, and IPv4-mapped peers', () => {
    expect(clientAddress('2001:db8::7', 'fd00::2', proxies)).toBe('2001:db8::7');
    expect(clientAddress('[2001:db8::7]:4711', '::ffff:10.0.0.2', proxies)).toBe('2001:db8::7');
    expect(clientAddress('198.51.100.9:4711', '10.0.0.2', proxies)).toBe('198.51.100.9');
    expect(clientAddress('::ffff:198.51.100.9', '10.0.0.2', proxies)).toBe('198.51.100.9');
    // A mapped address of a trusted proxy is trusted too.
    expect(clientAddress('198.51.100.9, ::ffff:10.0.0.3', '10.0.0.2', proxies)).toBe(
      '198.51.100.9',
    );
  });

  it('stops after 32 trusted hops rather than walk an endless header', () => {
    const chain = Array.from({ length: 100 }, (_, i) => `10.0.${i >> 8}.${i & 0xff}`).join(', ');
    const ip = clientAddress(`203.0.113.5, ${chain}`, '10.0.0.2', proxies);
    expect(ip).not.toBe('203.0.113.5');
    expect(inRange(parseIp(ip as string)!, range('10.0.0.0/8'))).toBe(true);
  });
});

describe('sourceKey', () => {
  it('is the address for IPv4 and the /64 for IPv6', () => {
    expect(sourceKey('198.51.100.9')).toBe('198.51.100.9');
    expect(sourceKey('::ffff:198.51.100.9')).toBe('198.51.100.9');
    expect(sourceKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:bbbb::9')).toBe(sourceKey('2001:db8:1:2:aaaa::1'));
    expect(sourceKey('unknown')).toBe('unknown');
  });
});

describe('server.trusted_proxies in the config', () => {
  const server = (s: Record<string, unknown>) => ConfigSchema.safeParse({ server: s });

  it('accepts IPv4 and IPv6 addresses and ranges with trust_proxy', () => {
    const ok = server({
      trust_proxy: true,
      trusted_proxies: ['10.0.0.0/8', '192.0.2.7', '::1', 'fd00::/8'],
    });
    expect(ok.success).toBe(true);
    expect(ConfigSchema.parse({}).server.trusted_proxies).toEqual([]);
  });

  it('refuses a malformed entry, host bits, and a list without trust_proxy', () => {
    for (const bad of [
      { trust_proxy: true, trusted_proxies: ['10.0.0.0/33'] },
      { trust_proxy: true, trusted_proxies: ['proxy.internal'] },
      { trust_proxy: true, trusted_proxies: ['10.0.0.1/8'] },
      { trusted_proxies: ['10.0.0.0/8'] },
    ]) {
      const res = server(bad);
      expect(res.success, JSON.stringify(bad)).toBe(false);
      expect(res.error?.issues[0]?.path).toEqual(
        expect.arrayContaining(['server', 'trusted_proxies']),
      );
    }
  });
});
