/**
 * Logs (pino): JSON lines, or human-readable lines on a terminal
 * (`authz.log.format`, `serve --log-format`; see log-format.ts). Call sites
 * never pass secrets; the redact list is a second net for fields that could
 * carry one if someone slips, and it applies to both forms: the pretty one
 * is drawn from the JSON pino has already redacted.
 */
import { pino, type Logger } from 'pino';
import { createPrettyDestination, type ResolvedLogFormat } from './log-format.js';

export const REDACTED_FIELDS = [
  'password', 'token', 'cookie', 'authorization', 'secret', 'clientSecret', 'client_secret',
  '*.password', '*.token', '*.cookie', '*.authorization', '*.secret', '*.clientSecret', '*.client_secret',
  'headers.cookie', 'headers.authorization',
];

/** A logger writing to `destination` (default: stdout), as JSON (default) or pretty lines. */
export function createLogger(level: string, destination?: NodeJS.WritableStream, format: ResolvedLogFormat = 'json'): Logger {
  const out = destination ?? pino.destination({ fd: 1, sync: false });
  return pino(
    {
      name: 'kestra-authz',
      level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'pretty' ? createPrettyDestination(out as unknown as Parameters<typeof createPrettyDestination>[0]) : out,
  );
}
