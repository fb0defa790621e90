/**
 * JSON logs (pino). Call sites never pass secrets; the redact list is a
 * second net for fields that could carry one if someone slips.
 */
import { pino, type Logger } from 'pino';

export const REDACTED_FIELDS = [
  'password', 'token', 'cookie', 'authorization', 'secret', 'clientSecret', 'client_secret',
  '*.password', '*.token', '*.cookie', '*.authorization', '*.secret', '*.clientSecret', '*.client_secret',
  'headers.cookie', 'headers.authorization',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      name: 'kestra-authz',
      level,
      base: { pid: process.pid },
      redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
