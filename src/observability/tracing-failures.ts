/**
 * Export failures (collector down, slow, refusing) reach the log at most
 * once per interval, with how many exports and spans failed meanwhile, so a
 * dead collector is visible without one warning per batch. A failed export
 * only drops spans: decisions never wait for or depend on the exporter.
 */
import type { Logger } from 'pino';

export interface ExportFailureLog {
  failed(err: unknown, spans: number): void;
  succeeded(): void;
}

/** Generous by default: a collector outage lasts minutes; a line a minute says so. */
const DEFAULT_INTERVAL_MS = 60_000;
const MAX_MESSAGE = 200;

export function createExportFailureLog(
  logger: Logger,
  endpoint: string,
  options: { intervalMs?: number; now?: () => number } = {},
): ExportFailureLog {
  const intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let lastLoggedAt = -Infinity;
  let failedExports = 0;
  let failedSpans = 0;
  let failing = false;

  return {
    failed(err, spans) {
      failing = true;
      failedExports += 1;
      failedSpans += spans;
      const at = now();
      if (at - lastLoggedAt < intervalMs) return;
      lastLoggedAt = at;
      logger.warn(
        { endpoint, err: exportError(err), failedExports, droppedSpans: failedSpans },
        'trace export failed; spans are dropped, decisions are not affected',
      );
      failedExports = 0;
      failedSpans = 0;
    },
    succeeded() {
      if (!failing) return;
      failing = false;
      logger.info({ endpoint, failedExportsSinceLastWarning: failedExports }, 'trace export works again');
      failedExports = 0;
      failedSpans = 0;
      lastLoggedAt = -Infinity;
    },
  };
}

/**
 * Name, code and a bounded message only. The exporter's errors carry the
 * HTTP status and the collector's reply text, never our request headers
 * (the collector credential).
 */
function exportError(err: unknown): Record<string, string | number> {
  if (!(err instanceof Error)) return { message: err === undefined ? 'export failed' : String(err).slice(0, MAX_MESSAGE) };
  const out: Record<string, string | number> = { name: err.name, message: err.message.slice(0, MAX_MESSAGE) };
  const { code } = err as { code?: unknown };
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error && (cause as { code?: unknown }).code !== undefined) out.cause = String((cause as { code?: unknown }).code);
  return out;
}
