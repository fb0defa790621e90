/**
 * Human-readable log lines for a terminal, JSON for everything else.
 *
 * The pretty form is a pino destination, not a second logger: pino
 * serializes each record as usual — the `redact` paths of logger.ts already
 * applied, secrets already `[redacted]` — and this destination turns that
 * JSON line into
 *
 *   19:42:07.123 INFO  config reloaded source=/etc/kestra-authz.yaml jwksNew=1
 *
 * (time of day in UTC, as the JSON `time` is). Nothing is read from the log
 * call itself, so the pretty form can never show what the JSON form hides.
 * Control characters in a message or value are escaped (`\n` stays `\n`):
 * a request path or header logged on a denial cannot forge a second line.
 */
import cluster from 'node:cluster';

export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type ResolvedLogFormat = Exclude<LogFormat, 'auto'>;

/** `auto` is `pretty` when stdout is a terminal, `json` otherwise (a pipe, a file, a container log). */
export function resolveLogFormat(format: LogFormat, stdoutIsTty: boolean | undefined): ResolvedLogFormat {
  if (format === 'auto') return stdoutIsTty === true ? 'pretty' : 'json';
  return format;
}

/** Parses a `--log-format` value: the format, or the message for a wrong one. */
export function parseLogFormat(value: string | undefined): LogFormat | string {
  const found = LOG_FORMATS.find((f) => f === value?.trim().toLowerCase());
  return found ?? `--log-format must be one of ${LOG_FORMATS.join(' | ')}, got "${value ?? ''}"`;
}

/** Removes `--log-format F` / `--log-format=F` from args; an error message when F is not a format. */
export function takeLogFormatFlag(args: readonly string[]): { format?: LogFormat; rest: string[] } | string {
  const rest: string[] = [];
  let value: string | undefined;
  let given = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--log-format') {
      given = true;
      value = args[++i];
    } else if (arg.startsWith('--log-format=')) {
      given = true;
      value = arg.slice('--log-format='.length);
    } else {
      rest.push(arg);
    }
  }
  if (!given) return { rest };
  const format = parseLogFormat(value);
  return (LOG_FORMATS as readonly string[]).includes(format) ? { format: format as LogFormat, rest } : format;
}

/** Keys shown in the line's fixed columns (time, level, message) or not at all (`name`: always ours). */
const FIXED_KEYS = new Set(['time', 'level', 'msg', 'name', 'pid', 'hostname', 'v']);

// C0, DEL, C1 and the two JavaScript line separators: anything a terminal could take as a new line or a command.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const escapeControls = (s: string) => s.replace(CONTROL, (c) => {
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
});

/** A value as `key=value` shows it: bare when unambiguous, else JSON (quoted, escaped). */
function renderValue(value: unknown): string {
  if (typeof value === 'string') {
    return value !== '' && /^[^\s"'=\\\u0000-\u001f\u007f-\u009f\u2028\u2029]+$/.test(value) ? value : escapeControls(JSON.stringify(value));
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // Objects and arrays: compact JSON, which escapes every control character.
  return escapeControls(JSON.stringify(value) ?? String(value));
}

function timeOfDay(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  const iso = Number.isNaN(date.getTime()) ? new Date().toISOString() : date.toISOString();
  return iso.slice(11, 23); // HH:MM:SS.mmm
}

export interface PrettyOptions {
  /** Show `pid=` (default: only in a worker of `serve --workers N`, where several processes share the terminal). */
  readonly showPid?: boolean;
}

/**
 * One pino JSON record → `HH:MM:SS.mmm LEVEL msg key=value…` (no newline).
 * An error's stack follows on indented lines. A line that is not a JSON
 * object is passed through with its control characters escaped.
 */
export function prettyLine(json: string, options: PrettyOptions = {}): string {
  let record: unknown;
  try {
    record = JSON.parse(json);
  } catch {
    return escapeControls(json.replace(/\n$/, ''));
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return escapeControls(json.replace(/\n$/, ''));
  const r = record as Record<string, unknown>;
  const level = (typeof r.level === 'string' ? r.level : typeof r.level === 'number' ? levelName(r.level) : 'info').toUpperCase();
  const parts = [timeOfDay(r.time), level.padEnd(5)];
  if (typeof r.msg === 'string' && r.msg !== '') parts.push(escapeControls(r.msg));
  const stacks: string[] = [];
  const showPid = options.showPid ?? cluster.isWorker;
  if (showPid && r.pid !== undefined) parts.push(`pid=${renderValue(r.pid)}`);
  for (const [key, value] of Object.entries(r)) {
    if (FIXED_KEYS.has(key) || value === undefined) continue;
    if (isErrorLike(value)) {
      parts.push(`${escapeControls(key)}=${renderValue(value.message)}`);
      if (typeof value.stack === 'string') stacks.push(value.stack);
      continue;
    }
    parts.push(`${escapeControls(key)}=${renderValue(value)}`);
  }
  let line = parts.join(' ');
  for (const stack of stacks) {
    line += stack.split('\n').slice(1).map((l) => `\n    ${escapeControls(l.trim())}`).join('');
  }
  return line;
}

function isErrorLike(v: unknown): v is { message: string; stack?: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string' && typeof (v as { stack?: unknown }).stack === 'string';
}

const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
const levelName = (n: number) => LEVEL_NAMES[n] ?? String(n);

/** What pino writes to and the pretty destination writes on: SonicBoom, a stream, a test sink. */
export interface LineSink {
  write(chunk: string): unknown;
  flush?(cb?: (err?: Error | null) => void): void;
  flushSync?(): void;
  end?(): void;
}

/**
 * A pino destination that writes each record to `out` as a pretty line.
 * pino hands a destination one whole serialized record per `write`.
 */
export function createPrettyDestination(out: LineSink, options: PrettyOptions = {}): LineSink {
  return {
    write(chunk: string) {
      const text = String(chunk);
      // One record per write in practice; split anyway so no two records share a line.
      for (const record of text.split('\n')) {
        if (record.trim() !== '') out.write(`${prettyLine(record, options)}\n`);
      }
      return true;
    },
    flush(cb?: (err?: Error | null) => void) {
      if (out.flush) out.flush(cb);
      else cb?.();
    },
    flushSync() {
      out.flushSync?.();
    },
    end() {
      out.end?.();
    },
  };
}
