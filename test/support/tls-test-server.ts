// An HTTPS server for tests, with a private CA made by the openssl CLI: its certificate names the given hosts and 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** The CA certificate (PEM) a client must trust. */
  readonly ca: string;
  readonly key: string;
  readonly cert: string;
}

/** A CA and a leaf certificate (P-256) for `hosts` and 127.0.0.1, valid one day. */
export function makeTestCertificates(hosts: readonly string[]): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-tls-'));
  const at = (name: string) => join(dir, name);
  const run = (args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  try {
    run([
      'req',
      '-x509',
      ...ec,
      '-keyout',
      at('ca.key'),
      '-out',
      at('ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=Mandate Test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign',
    ]);
    run([
      'req',
      ...ec,
      '-keyout',
      at('leaf.key'),
      '-out',
      at('leaf.csr'),
      '-subj',
      `/CN=${hosts[0] ?? 'localhost'}`,
    ]);
    const san = [...hosts.map((h) => `DNS:${h}`), 'IP:127.0.0.1'].join(',');
    writeFileSync(at('ext.cnf'), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
    run([
      'x509',
      '-req',
      '-in',
      at('leaf.csr'),
      '-CA',
      at('ca.crt'),
      '-CAkey',
      at('ca.key'),
      '-CAcreateserial',
      '-out',
      at('leaf.crt'),
      '-days',
      '1',
      '-extfile',
      at('ext.cnf'),
    ]);
    return {
      ca: readFileSync(at('ca.crt'), 'utf8'),
      key: readFileSync(at('leaf.key'), 'utf8'),
      cert: readFileSync(at('leaf.crt'), 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TlsTestServer {
  readonly port: number;
  /** Requests seen, by path. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** Starts an HTTPS server on 127.0.0.1 (a free port) answering with `handle`. */
export async function startTlsTestServer(
  certs: TestCertificates,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<TlsTestServer> {
  const hits = new Map<string, number>();
  const server: Server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    const path = new URL(req.url ?? '/', 'https://x').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handle(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    hits,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
