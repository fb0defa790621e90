/**
 * The decision audit log (`authz.audit`): after each decision a door made,
 * maybe one JSON line — every sampled allow and denial (sample-allows,
 * sample-denies) — handed to the background writer. Recording never throws
 * and never waits: a failure here is logged once and the decision stands.
 * Off by default; then no AuditLog exists and a door pays one `undefined`
 * check (runtime.ts).
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from '../core/errors.js';
import type { AuditConfig, Config } from '../config/types.js';
import type { AuthRequest } from '../core/auth-request.js';
import type { Decision } from '../core/decision.js';
import { auditRecord } from './audit-line.js';
import { AuditWriter } from './audit-writer.js';

export interface AuditLog {
  /** `config`: the snapshot of the engine that decided (route templates follow a reload). */
  record(config: Config, req: AuthRequest, decision: Decision, mode: string): void;
  /** Writes what is queued and closes the output. */
  close(): Promise<void>;
}

export interface AuditLogOptions {
  /** 0 ≤ random() < 1; Math.random by default. */
  readonly random?: () => number;
  readonly now?: () => Date;
}

/**
 * At start: a file output whose folder is missing or not writable is a
 * config error (the service does not start), rather than lines dropped
 * later. The file itself is opened by the first line.
 */
export async function checkAuditOutput(config: AuditConfig, source: string): Promise<void> {
  if (!config.enabled || config.output === 'stdout') return;
  const folder = dirname(config.output);
  try {
    if (!(await stat(folder)).isDirectory()) throw new Error('not a folder');
    await access(folder, constants.W_OK);
  } catch {
    throw new ConfigError(source, [{ key: 'authz.audit.output', message: `the folder ${folder} does not exist or is not writable` }]);
  }
}

/** undefined when the audit log is off. */
export function createAuditLog(config: AuditConfig, logger: Logger, options: AuditLogOptions = {}): AuditLog | undefined {
  if (!config.enabled) return undefined;
  const writer = new AuditWriter(config, logger);
  const random = options.random ?? Math.random;
  const now = options.now ?? (() => new Date());
  const { sampleAllows, sampleDenies } = config;
  let failed = false;
  return {
    record(engineConfig, req, decision, mode) {
      const share = decision.allow ? sampleAllows : sampleDenies;
      // 1 keeps every line, 0 none, without a random draw.
      if (share < 1 && (share <= 0 || random() >= share)) return;
      try {
        writer.write(JSON.stringify(auditRecord(engineConfig, req, decision, mode, now())));
      } catch (err) {
        if (!failed) logger.error({ err: { name: (err as Error).name, message: (err as Error).message } }, 'audit log: a record could not be built; it is skipped');
        failed = true;
      }
    },
    close: () => writer.close(),
  };
}
