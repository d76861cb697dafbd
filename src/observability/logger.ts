// JSON logs on stdout (pino), with every credential-bearing field redacted.
import { pino } from 'pino';

export const REDACT_PATHS = [
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'token',
  'access_token',
  'refresh_token',
  'client_secret',
  'client_assertion',
  'assertion',
  'password',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.client_secret',
  '*.client_assertion',
  '*.assertion',
  '*.private_jwk',
];

export type AppLogger = pino.Logger;

export function createLogger(level = process.env.MANDATE_LOG_LEVEL ?? 'info'): AppLogger {
  return pino({
    level,
    base: { service: 'mandate' },
    // ISO 8601 times (`"time":"2026-01-01T12:00:00.000Z"`), readable and sortable as text.
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  });
}
