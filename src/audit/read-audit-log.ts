/**
 * Reads audit log files back (for `audit replay`): one AuditRecord per
 * `"event":"authz.decision"` line. Other lines — the service's own log
 * lines when the audit log shares stdout with them — are passed over; a
 * line that claims to be a decision but lacks a field is an error naming
 * the file and line (never the line's text).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AuthzError } from '../core/errors.js';
import type { AuditRecord } from './audit-line.js';

export interface LoggedDecision {
  readonly file: string;
  readonly line: number;
  readonly record: AuditRecord;
}

const VIA = new Set(['session', 'bearer', 'basic', 'mtls']);

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/** The missing or wrong field, or undefined when the record is complete. */
function problemOf(r: Record<string, unknown>): string | undefined {
  for (const key of ['requestId', 'method', 'host', 'path', 'rule', 'reason'] as const) {
    if (typeof r[key] !== 'string') return `"${key}" must be a string`;
  }
  if (!(r.path as string).startsWith('/')) return '"path" must start with /';
  if (r.verdict !== 'allow' && r.verdict !== 'deny') return '"verdict" must be allow or deny';
  if (typeof r.status !== 'number') return '"status" must be a number';
  if (r.browser !== undefined && typeof r.browser !== 'boolean') return '"browser" must be true or false';
  const searched = r.searchNamespaces;
  if (searched !== undefined && searched !== null && !isStringArray(searched)) return '"searchNamespaces" must be a list of strings or null';
  if (r.identity === undefined) return undefined;
  const id = r.identity as Record<string, unknown> | null;
  if (typeof id !== 'object' || id === null) return '"identity" must be an object';
  if (typeof id.name !== 'string' || typeof id.subject !== 'string') return '"identity" needs a name and a subject';
  if (typeof id.via !== 'string' || !VIA.has(id.via)) return '"identity.via" must be session, bearer, basic or mtls';
  if (!isStringArray(id.groups)) return '"identity.groups" must be a list of strings';
  for (const key of ['issuer', 'provider', 'tenant'] as const) {
    if (id[key] !== undefined && typeof id[key] !== 'string') return `"identity.${key}" must be a string`;
  }
  if (id.admin !== undefined && typeof id.admin !== 'boolean') return '"identity.admin" must be true or false';
  return undefined;
}

function parsed(text: string): Record<string, unknown> | undefined {
  if (!text.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** Every decision of `file`, in order. Throws AuthzError ERR_AUDIT_LOG on an unreadable file or a broken decision line. */
export async function* readAuditLog(file: string): AsyncGenerator<LoggedDecision> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of lines) {
      n++;
      const value = parsed(text.trim());
      if (value?.event !== 'authz.decision') continue;
      const problem = problemOf(value);
      if (problem !== undefined) throw new AuthzError('ERR_AUDIT_LOG', `${file}:${n}: not a complete audit record: ${problem}`);
      yield { file, line: n, record: value as unknown as AuditRecord };
    }
  } catch (err) {
    if (err instanceof AuthzError) throw err;
    throw new AuthzError('ERR_AUDIT_LOG', `${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).name})`);
  } finally {
    lines.close();
  }
}
