// Where a CAEP receiver may be: address classes, URL refusals at registration, and the resolved-address check at delivery.
import type { LookupAddress } from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  type AddressKind,
  addressKindOf,
  addressProblem,
  receiverUrlProblem,
} from '../../src/domain/receiver-target.ts';
import { checkedLookup, TargetRefused } from '../../src/net/checked-lookup.ts';
import { pushSecurityEvent } from '../../src/worker/push-security-event.ts';

const STRICT = { allowHttp: false, allowPrivateTargets: false };
const OPEN = { allowHttp: true, allowPrivateTargets: true };

describe('addressKindOf', () => {
  it.each<[string, AddressKind]>([
    // IPv4
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['224.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    // IPv6
    ['2606:4700:4700::1111', 'public'],
    ['[2606:4700:4700::1111]', 'public'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd00:ec2::254', 'unique-local'], // AWS metadata over IPv6
    ['fec0::1', 'private'],
    ['ff02::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'], // Teredo
    ['100::1', 'reserved'],
    // IPv4 inside IPv6: judged by the IPv4 address a socket would reach
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:a9fe:a9fe]', 'link-local'], // 169.254.169.254
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::ffff:100.64.0.1', 'private'], // CGNAT, mapped
    ['::ffff:224.0.0.251', 'reserved'], // multicast, mapped
    ['::ffff:0.0.0.0', 'unspecified'],
    ['ff05::1:3', 'reserved'], // site-local multicast
    ['::127.0.0.1', 'loopback'], // IPv4-compatible
    ['64:ff9b::a9fe:a9fe', 'link-local'], // NAT64 of the metadata address
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'], // 6to4 of 127.0.0.1
    ['2002:c0a8:101::1', 'private'], // 6to4 of 192.168.1.1
    ['2002:808:808::1', 'public'],
  ])('%s is %s', (address, kind) => {
    expect(addressKindOf(address)).toBe(kind);
  });

  it.each([
    'example.com',
    '1.2.3',
    '1.2.3.4.5',
    '256.1.1.1',
    '01.2.3.4',
    '1:2:3',
    '1::2::3',
    '1:2:3:4:5:6:7:8:9',
    '::ffff:1.2.3.999',
    '',
  ])('%s is not an address', (text) => {
    expect(addressKindOf(text)).toBeUndefined();
  });

  it('refuses every non-public class unless private targets are allowed, and anything unparseable always', () => {
    for (const a of [
      '127.0.0.1',
      '::1',
      '10.0.0.1',
      '169.254.169.254',
      'fd00::1',
      '0.0.0.0',
      '::ffff:127.0.0.1',
      '224.0.0.1',
    ]) {
      expect(addressProblem(a, STRICT), a).toMatch(/allow_private_targets/);
      expect(addressProblem(a, OPEN), a).toBeUndefined();
    }
    expect(addressProblem('8.8.8.8', STRICT)).toBeUndefined();
    expect(addressProblem('not-an-ip', OPEN)).toBe('is not an IP address');
  });
});

describe('receiverUrlProblem (registration)', () => {
  it.each([
    ['http://rs.example.com/caep', /https/],
    ['ftp://rs.example.com/caep', /http\(s\)/],
    ['https://user:pw@rs.example.com/caep', /credentials/],
    ['https://127.0.0.1/caep', /loopback/],
    ['https://2130706433/caep', /loopback/], // 127.0.0.1 as one number: the URL parser normalises it
    ['https://0x7f.1/caep', /loopback/],
    ['https://[::1]/caep', /loopback/],
    ['https://[::ffff:127.0.0.1]/caep', /loopback/],
    ['https://169.254.169.254/latest/meta-data', /link-local/],
    ['https://[fd00:ec2::254]/', /unique-local/],
    ['https://10.0.0.5:8443/caep', /private/],
    ['https://0.0.0.0/caep', /unspecified/],
    ['https://localhost/caep', /loopback name/],
    ['https://LOCALHOST./caep', /loopback name/],
    ['https://rs.localhost/caep', /loopback name/],
    ['not a url', /absolute URL/],
  ])('refuses %s', (url, problem) => {
    expect(receiverUrlProblem(url, STRICT)).toMatch(problem);
  });

  it('accepts https to a public name or address', () => {
    expect(receiverUrlProblem('https://rs.example.com/caep', STRICT)).toBeUndefined();
    expect(receiverUrlProblem('https://93.184.216.34/caep', STRICT)).toBeUndefined();
  });

  it('accepts http and private targets only when config allows them', () => {
    expect(receiverUrlProblem('http://127.0.0.1:9/events', OPEN)).toBeUndefined();
    expect(
      receiverUrlProblem('http://127.0.0.1:9/events', {
        allowHttp: true,
        allowPrivateTargets: false,
      }),
    ).toMatch(/loopback/);
    expect(
      receiverUrlProblem('https://127.0.0.1:9/events', {
        allowHttp: false,
        allowPrivateTargets: true,
      }),
    ).toBeUndefined();
    // Credentials are refused whatever config says: the URL is listed and logged.
    expect(receiverUrlProblem('http://u:p@127.0.0.1/', OPEN)).toMatch(/credentials/);
  });
});

describe('checkedLookup (delivery)', () => {
  const lookup = (resolved: string[], targets = STRICT, all = true) =>
    new Promise<{ err: Error | null; addresses: unknown }>((ok) => {
      const resolve = async () =>
        resolved.map(
          (address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }),
        );
      checkedLookup(targets, resolve)('rs.example.com', { all }, (err, addresses) =>
        ok({ err, addresses }),
      );
    });

  it('hands over every address when all are public', async () => {
    const { err, addresses } = await lookup(['93.184.216.34', '2606:4700:4700::1111']);
    expect(err).toBeNull();
    expect(addresses).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:4700:4700::1111', family: 6 },
    ]);
  });

  it('hands over the first checked address when one is asked for', async () => {
    const { err, addresses } = await lookup(['93.184.216.34'], STRICT, false);
    expect(err).toBeNull();
    expect(addresses).toBe('93.184.216.34');
  });

  it.each([['169.254.169.254'], ['127.0.0.1'], ['::ffff:10.0.0.1'], ['fd00::1'], ['0.0.0.0']])(
    'refuses a name that resolves to %s',
    async (bad) => {
      const { err } = await lookup([bad]);
      expect(err).toBeInstanceOf(TargetRefused);
    },
  );

  it('refuses a name when any one of its addresses is internal (DNS rebinding, mixed answers)', async () => {
    const { err } = await lookup(['93.184.216.34', '10.0.0.7']);
    expect(err).toBeInstanceOf(TargetRefused);
    expect(err?.message).toContain('10.0.0.7');
  });

  it('refuses a name with no address', async () => {
    expect((await lookup([])).err).toBeInstanceOf(TargetRefused);
  });

  it('lets internal addresses through only when config allows private targets', async () => {
    expect((await lookup(['127.0.0.1'], OPEN)).err).toBeNull();
  });
});

describe('pushSecurityEvent refusals (nothing is sent)', () => {
  const push = (url: string, targets = STRICT, resolved: string[] = ['93.184.216.34']) =>
    pushSecurityEvent(url, {
      headers: {},
      body: 'x',
      timeoutMs: 1000,
      targets,
      resolve: async () => resolved.map((address) => ({ address, family: 4 })),
    });

  it('refuses a URL config does not allow before resolving it', async () => {
    await expect(push('http://rs.example.com/caep')).rejects.toBeInstanceOf(TargetRefused);
    await expect(push('https://169.254.169.254/')).rejects.toBeInstanceOf(TargetRefused);
  });

  it('refuses a public name that now resolves to the metadata address', async () => {
    await expect(
      push('https://rs.example.com/caep', STRICT, ['169.254.169.254']),
    ).rejects.toBeInstanceOf(TargetRefused);
  });
});
