/**
 * Where each config value came from: for every normalized path
 * (`['authz', 'roles', 0, 'name']`) the 1-based file line and the path as
 * the operator spelled it (`authz.roles[0].name`), so problems name the key
 * the way it was written even after camelCase → kebab-case normalization.
 */

export type ConfigPath = readonly (string | number)[];

interface Position {
  readonly line: number;
  readonly written: string;
}

export interface Located {
  /** Dotted key as written, e.g. `kestra.security.defaultRole.name`. */
  readonly key: string;
  readonly line?: number;
}

export class SourcePositions {
  private readonly byPath = new Map<string, Position>();

  record(path: ConfigPath, line: number, written: string): void {
    this.byPath.set(pathId(path), { line, written });
  }

  /**
   * The written key and line of `path`; for a path that isn't in the file (a
   * missing required key) the nearest written ancestor's line, with the rest
   * of the path appended as normalized.
   */
  locate(path: ConfigPath): Located {
    for (let depth = path.length; depth > 0; depth--) {
      const found = this.byPath.get(pathId(path.slice(0, depth)));
      if (found) return { key: appendPath(found.written, path.slice(depth)), line: found.line };
    }
    return { key: path.length ? formatPath(path) : '(root)' };
  }

  lineOf(path: ConfigPath): number | undefined {
    return this.byPath.get(pathId(path))?.line;
  }
}

/** `['authz', 'roles', 0, 'name']` → `authz.roles[0].name`. */
export function formatPath(path: ConfigPath): string {
  return appendPath('', path);
}

export function appendPath(prefix: string, rest: ConfigPath): string {
  let out = prefix;
  for (const part of rest) {
    out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  }
  return out;
}

function pathId(path: ConfigPath): string {
  return path.map((p) => (typeof p === 'number' ? `#${p}` : `.${p}`)).join('\u0000');
}
