/**
 * Calls `onChange` when the config file's content changes, however it was
 * changed: written in place, replaced by rename (editors, `sed -i`,
 * atomic writers), or swapped under a Kubernetes ConfigMap mount, where
 * `config.yaml` is a symlink through `..data` and an update re-points
 * `..data` to a new timestamped directory (the file itself never gets an
 * event). So the watch is on the file's directory, events are filtered to the
 * file's name and `..data` (an unrelated write there — the users file often
 * lives next to the config — reloads nothing), and a burst of events (an
 * editor's save is several) is debounced into one reload. A file missing
 * mid-replace is waited for: the rename that completes it fires another event.
 *
 * Every burst reloads, even when the content looks unchanged: comparing with
 * the content last seen here would be wrong after a SIGHUP loaded another
 * version in between, and reloading an identical file is harmless.
 * Not seen: edits to the target of a symlink that lives in another directory
 * (other than the `..data` layout); SIGHUP covers that case.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from 'pino';

export interface ConfigWatchOptions {
  readonly logger: Logger;
  /** Quiet time after the last event before the file is read (default 200 ms). */
  readonly debounceMs?: number;
}

export interface ConfigWatcher {
  close(): void;
}

/** The directory entry Kubernetes re-points on every ConfigMap/Secret update. */
const KUBERNETES_DATA_LINK = '..data';

/** Whether a directory event names the config file (or the ConfigMap link); null = unknown, so yes. */
export function concernsConfigFile(fileName: string, changed: string | null): boolean {
  return changed === null || changed === fileName || changed === KUBERNETES_DATA_LINK;
}

/** False only when the path (or a link on it) does not exist: any other error is for the reload to report. */
async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export function watchConfigFile(path: string, onChange: () => void, options: ConfigWatchOptions): ConfigWatcher {
  const { logger } = options;
  const debounceMs = options.debounceMs ?? 200;
  const file = resolve(path);
  const dir = dirname(file);
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const check = async (): Promise<void> => {
    if (closed || !(await exists(file)) || closed) return;
    logger.info({ source: path }, 'config file changed; reloading');
    onChange();
  };

  const schedule = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => { void check(); }, debounceMs);
    timer.unref();
  };

  let watcher: FSWatcher;
  try {
    watcher = watch(dir, { persistent: false }, (_event, changed) => {
      if (concernsConfigFile(name, changed)) schedule();
    });
  } catch (err) {
    logger.warn({ source: path, code: (err as NodeJS.ErrnoException).code }, 'cannot watch the config directory; reload with SIGHUP');
    return { close() {} };
  }
  watcher.on('error', (err: NodeJS.ErrnoException) => {
    logger.warn({ source: path, code: err.code }, 'config directory watch stopped; reload with SIGHUP');
    watcher.close();
  });

  return {
    close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
    },
  };
}
