// Reading and dropping the rest of a request body that will be refused, so the refusal reaches the client.
import type { IncomingMessage } from 'node:http';

/**
 * Reads the rest of `incoming`'s body and drops it, up to `maxBytes`. Resolves true once the body
 * has ended within them, false when it is larger, broke off, or the socket closed (the caller
 * then answers with `Connection: close`).
 *
 * Why: answering 413 at once and closing while a client is still writing its body makes the
 * client's TCP stack receive a reset, and a client that reads only after writing (most do,
 * without `Expect: 100-continue`) loses the answer with it. Node's request timeout
 * (`server.request_timeout_ms`) bounds how long this may take.
 */
export function discardBody(incoming: IncomingMessage, maxBytes: number): Promise<boolean> {
  if (incoming.complete) return Promise.resolve(true);
  if (incoming.destroyed || maxBytes <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    let seen = 0;
    const done = (ended: boolean) => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('close', onClose);
      resolve(ended);
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > maxBytes) {
        incoming.pause();
        done(false);
      }
    };
    const onEnd = () => done(true);
    const onClose = () => done(incoming.complete);
    incoming.on('data', onData);
    incoming.once('end', onEnd);
    incoming.once('close', onClose);
    // A client that breaks off mid-body makes the request emit 'error': never an uncaught one.
    incoming.on('error', () => undefined);
    incoming.resume();
  });
}
