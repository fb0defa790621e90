/**
 * One registry of operational error codes (not decision reasons — those live
 * in reasons.ts). Callers branch on `code`, never on message text. Messages
 * never contain a secret, token, password or cookie value.
 */
export type ErrorCode =
  | 'ERR_CONFIG_INVALID'
  | 'ERR_CONFIG_READ'
  | 'ERR_USER_EXISTS'
  | 'ERR_USER_NOT_FOUND'
  | 'ERR_USERS_STORE'
  | 'ERR_SESSIONS_STORE'
  | 'ERR_JWKS_FETCH'
  | 'ERR_JWKS_INVALID'
  | 'ERR_CLI_USAGE'
  | 'ERR_CASES_READ'
  | 'ERR_CASES_INVALID'
  | 'ERR_AUDIT_LOG';

export class AuthzError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AuthzError';
  }
}

/** One config problem: the dotted key, the file line (1-based) when known, and what is wrong. */
export interface ConfigProblem {
  readonly key: string;
  readonly line?: number;
  readonly message: string;
}

export class ConfigError extends AuthzError {
  readonly problems: readonly ConfigProblem[];
  readonly file: string;
  constructor(file: string, problems: readonly ConfigProblem[]) {
    super('ERR_CONFIG_INVALID', formatProblems(file, problems));
    this.problems = problems;
    this.file = file;
    this.name = 'ConfigError';
  }
}

export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) => `  - ${file}${p.line ? `:${p.line}` : ''}: ${p.key}: ${p.message}`);
  return `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
