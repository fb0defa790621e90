/**
 * The `authz.audit` section: the decision audit log (audit/audit-log.ts).
 * Off unless `enabled: true`. `output` is `stdout` or a file path (relative
 * to the config file), rotated by size.
 */
import { z } from 'zod';
import * as f from './schema-fields.js';
import { ratio } from './tracing-fields.js';

const SIZE = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$/i;
const UNIT: Readonly<Record<string, number>> = {
  b: 1, kb: 1_000, mb: 1_000_000, gb: 1_000_000_000, kib: 1_024, mib: 1_048_576, gib: 1_073_741_824,
};
/** Below this a rotated file would hold a handful of lines. */
export const MIN_AUDIT_FILE_BYTES = 1_024;

/** `100MB`, `512KiB`, `1048576` → bytes (decimal kB/MB/GB, binary KiB/MiB/GiB); at least 1 KiB. */
export const byteSize = f.field((v) => {
  const m = typeof v === 'number' ? [String(v), String(v), 'b'] : typeof v === 'string' ? SIZE.exec(v) : null;
  const bytes = m ? Math.floor(Number(m[1]) * UNIT[(m[2] ?? 'b').toLowerCase()]!) : NaN;
  if (!Number.isFinite(bytes)) return { error: 'must be a size such as 100MB, 512KiB or a number of bytes' };
  if (bytes < MIN_AUDIT_FILE_BYTES) return { error: `must be at least ${MIN_AUDIT_FILE_BYTES} bytes` };
  return { value: bytes };
}, 'size (100MB, 512KiB, bytes)');

/** `stdout`, or a file path. */
const output = f.field((v) => (typeof v === 'string' && v.trim() !== '' && !v.includes('\0')
  ? { value: v.trim() }
  : { error: 'must be stdout or a file path' }), 'stdout | file path');

export const auditSection = z.strictObject({
  enabled: f.bool.optional(),
  output: output.optional(),
  'max-size': byteSize.optional(),
  'max-files': f.integer(1, 1_000).optional(),
  'sample-allows': ratio.optional(),
  'sample-denies': ratio.optional(),
  'buffer-lines': f.integer(1, 1_000_000).optional(),
});
