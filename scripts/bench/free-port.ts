// Finds a free TCP port on 127.0.0.1 for a benchmark server or the private Redis.
import { createServer } from 'node:net';

/** Asks the kernel for an unused port; the tiny race until the caller binds it is acceptable here. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
