// Asks "is a Redis answering here?" over a raw TCP socket, so bootstrap code needs no Redis client.
import { connect } from 'node:net';

/**
 * Sends an inline `PING` to `host:port` and resolves with the first line of the reply
 * (`+PONG`, or an error such as `-LOADING ...` / `-NOAUTH ...`), or `null` when nothing answered
 * within `timeoutMs` (connection refused, closed, or silent). Never rejects.
 */
export function pingRedis(host: string, port: number, timeoutMs = 1000): Promise<string | null> {
  return new Promise((resolve) => {
    let buffer = '';
    let settled = false;
    const socket = connect({ host, port });
    const finish = (reply: string | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    socket.setEncoding('utf8');
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\r\n');
      if (end >= 0) finish(buffer.slice(0, end));
    });
    socket.once('error', () => finish(null));
    socket.once('close', () => finish(null));
  });
}
