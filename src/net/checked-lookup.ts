// A socket lookup that connects only to addresses checked against the private-address guard (SSRF), with no second DNS answer.
import { promises as dns, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { addressProblem, type ReceiverTargetPolicy } from '../domain/receiver-target.ts';

/** The URL or an address its name resolved to is not allowed: retrying will not help. */
export class TargetRefused extends Error {
  override readonly name = 'TargetRefused';
}

/** Resolves a host name to every address it has (the system resolver by default). */
export type ResolveAll = (hostname: string, family: number) => Promise<LookupAddress[]>;

const resolveWithSystem: ResolveAll = (hostname, family) =>
  dns.lookup(hostname, { all: true, family });

/**
 * A socket `lookup` that resolves the name, checks every address it resolved to, and hands the
 * socket only those checked addresses; one refused address refuses them all (a name that can
 * point at an internal host is refused, whichever address a connection would have picked). The
 * socket connects to what this returned: there is no second resolution a rebinding DNS server
 * could answer differently. An IP-literal host never reaches a lookup: check it before connecting.
 * `flag` names the config key that allows private targets, for the error text.
 */
export function checkedLookup(
  targets: Pick<ReceiverTargetPolicy, 'allowPrivateTargets'>,
  resolve: ResolveAll = resolveWithSystem,
  flag?: string,
): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, options.family === 4 || options.family === 6 ? options.family : 0)
      .then((addresses) => {
        if (!addresses.length) throw new TargetRefused(`${hostname} resolved to no address`);
        for (const a of addresses) {
          const problem = addressProblem(a.address, targets, flag);
          if (problem)
            throw new TargetRefused(`${hostname} resolved to ${a.address}, which ${problem}`);
        }
        const [first] = addresses as [LookupAddress];
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      })
      .catch((err: Error) => callback(err, '', 0));
  };
}
