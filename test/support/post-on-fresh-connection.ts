// A POST on a connection of its own, for bodies a server may refuse and hang up on mid-upload.
import { request } from 'node:http';

/**
 * Resolves with status, content type and body, or 'closed' when the server hung up before
 * answering. `chunked` sends the body in 8 KiB chunks without Content-Length.
 */
export function postOnFreshConnection(
  url: string,
  body: string,
  headers: Record<string, string>,
  chunked = false,
): Promise<{ status: number; type: string; body: string } | 'closed'> {
  return new Promise((resolve) => {
    const req = request(url, {
      method: 'POST',
      agent: false,
      headers: chunked
        ? headers
        : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers['content-type']),
          body: text,
        }),
      );
      res.on('error', () => resolve('closed'));
    });
    req.on('error', () => resolve('closed'));
    if (chunked) for (let i = 0; i < body.length; i += 8192) req.write(body.slice(i, i + 8192));
    req.end(chunked ? undefined : body);
  });
}
