/**
 * Envoy's API protos as one protobufjs Root, for checking Envoy config files:
 * the Bootstrap loads at construction; a package named by a `typed_config`
 * `@type` loads the first time it is asked for.
 */
import protobuf from 'protobufjs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { envoyProtoIncludeDirs } from './envoy-protos.js';

const require = createRequire(import.meta.url);
/** A protobuf full name; checked before a name is turned into a file path. */
export const FULL_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const LOAD_OPTIONS = { keepCase: true };

/** Envoy's protos in one protobufjs Root; packages named by an `@type` load on first use. */
export class EnvoyProtoSchema {
  private readonly root = new protobuf.Root();
  private readonly triedDirs = new Set<string>();

  constructor(private readonly includeDirs: string[] = defaultIncludeDirs()) {
    this.root.resolvePath = this.resolvePath;
    this.root.loadSync('envoy/config/bootstrap/v3/bootstrap.proto', LOAD_OPTIONS);
    this.root.resolveAll();
  }

  /** Imports resolve inside the include dirs only (a miss fails the load, never reads from cwd). */
  private readonly resolvePath = (_origin: string, target: string): string =>
    this.locate(target) ?? join(this.includeDirs[0] ?? '/nonexistent', target);

  /** The message type with this full name (no leading dot), or undefined. */
  messageType(fullName: string): protobuf.Type | undefined {
    if (!FULL_NAME.test(fullName)) return undefined; // the name becomes a path below
    return this.lookup(fullName) ?? (this.loadPackageOf(fullName) ? this.lookup(fullName) : undefined);
  }

  private lookup(fullName: string): protobuf.Type | undefined {
    const found = this.root.lookup(`.${fullName}`);
    return found instanceof protobuf.Type ? found : undefined;
  }

  private locate(target: string): string | undefined {
    for (const dir of this.includeDirs) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return undefined;
  }

  /** Proto packages map to directories (`envoy.a.v3.T` → `envoy/a/v3/*.proto`). */
  private loadPackageOf(fullName: string): boolean {
    const parts = fullName.split('.');
    const typeAt = parts.findIndex((part) => /^[A-Z]/.test(part));
    if (typeAt <= 0) return false;
    const packageDir = parts.slice(0, typeAt).join('/');
    if (this.triedDirs.has(packageDir)) return false;
    this.triedDirs.add(packageDir);
    const dir = this.locate(packageDir);
    if (!dir || !statSync(dir).isDirectory()) return false;
    const files = readdirSync(dir).filter((f) => f.endsWith('.proto')).map((f) => `${packageDir}/${f}`);
    // A file whose imports the bundled snapshot lacks (OpenCensus, v2…) must not
    // keep its siblings out: load what loads, file by file if need be.
    const loadable = this.loadsCleanly(files) ? files : files.filter((file) => this.loadsCleanly([file]));
    if (!loadable.length) return false;
    try {
      this.root.loadSync(loadable, LOAD_OPTIONS);
      this.root.resolveAll();
      return true;
    } catch {
      return false;
    }
  }

  /** protobufjs cannot roll back a failed load, and a half-loaded file would break every later resolveAll(). */
  private loadsCleanly(files: string[]): boolean {
    try {
      const trial = new protobuf.Root();
      trial.resolvePath = this.resolvePath;
      trial.loadSync(files, LOAD_OPTIONS);
      trial.resolveAll();
      return true;
    } catch {
      return false;
    }
  }
}

function defaultIncludeDirs(): string[] {
  // protobufjs ships google/protobuf/descriptor.proto, which Envoy's annotations import.
  return [...envoyProtoIncludeDirs(), dirname(require.resolve('protobufjs/package.json'))];
}

