// Headers on every console answer: a strict Content-Security-Policy (no inline script or style), no framing, no caching.
import type { Context, Next } from 'hono';

/** Scripts and styles only from our own files; forms post only to us; never framed. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

export async function consoleSecurityHeaders(c: Context, next: Next): Promise<void> {
  await next();
  c.res.headers.set('Content-Security-Policy', CONSOLE_CSP);
  c.res.headers.set('X-Frame-Options', 'DENY');
  c.res.headers.set('X-Content-Type-Options', 'nosniff');
  c.res.headers.set('Referrer-Policy', 'same-origin');
  c.res.headers.set('Cross-Origin-Opener-Policy', 'same-origin');
  if (!c.res.headers.has('Cache-Control')) c.res.headers.set('Cache-Control', 'no-store');
}
