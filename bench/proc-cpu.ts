/**
 * Who used the CPU during the measured window (Linux /proc): the generator
 * itself, the server, and everything else on the machine. A server below
 * ~90 % of its core was not the bottleneck; CPU used by other processes
 * means the machine was shared and the run is not clean. The report says so
 * rather than printing a number that means something else.
 */
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: 100 on every Linux architecture node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds of `pid`, or null when it cannot be read (not Linux, process gone). */
export function cpuSecondsOf(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is parenthesised and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After comm, fields start at #3 (state); utime is #14 and stime #15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** The parent pid field of /proc/<pid>/stat, or null when it cannot be read. */
function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[4 - 3]);
  } catch {
    return null;
  }
}

/**
 * CPU seconds of `pid` and every live process below it: a cluster primary
 * and its workers count as one server. Null when `pid` itself cannot be read.
 */
export function cpuSecondsOfTree(pid: number): number | null {
  const own = cpuSecondsOf(pid);
  if (own === null) return null;
  let pids: number[];
  try {
    pids = readdirSync('/proc').filter((name) => /^[0-9]+$/.test(name)).map(Number);
  } catch {
    return own;
  }
  const children = new Map<number, number[]>();
  for (const candidate of pids) {
    const parent = parentOf(candidate);
    if (parent !== null) children.set(parent, [...(children.get(parent) ?? []), candidate]);
  }
  let total = own;
  const pending = [...(children.get(pid) ?? [])];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    total += cpuSecondsOf(next) ?? 0;
    pending.push(...(children.get(next) ?? []));
  }
  return total;
}

/** Busy CPU seconds of the whole machine (every core), or null off Linux. */
export function machineBusySeconds(): number | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const line = stat.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return null;
  // user nice system idle iowait irq softirq steal …
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, n) => sum + (n ?? 0), 0);
  return Number.isFinite(busy) ? busy / CLOCK_TICKS_PER_SECOND : null;
}

export interface CpuShares {
  /** % of one core, over the window. */
  readonly generatorPercent: number;
  readonly serverPercent: number | null;
  /** CPU used by every other process on the machine, % of one core. */
  readonly otherPercent: number | null;
}

/** Starts watching; the returned function ends the window and reports the shares. */
export function watchCpu(serverPid: number | undefined): (wallMs: number) => CpuShares {
  const self0 = process.cpuUsage();
  const server0 = serverPid === undefined ? null : cpuSecondsOfTree(serverPid);
  const machine0 = machineBusySeconds();
  return (wallMs) => {
    const self = process.cpuUsage(self0);
    const server1 = serverPid === undefined ? null : cpuSecondsOfTree(serverPid);
    const machine1 = machineBusySeconds();
    const pct = (seconds: number) => Math.round((seconds * 1000 / wallMs) * 1000) / 10;
    const generatorS = (self.user + self.system) / 1e6;
    const serverS = server0 === null || server1 === null ? null : server1 - server0;
    const otherS = machine0 === null || machine1 === null || serverS === null ? null : Math.max(0, machine1 - machine0 - serverS - generatorS);
    return {
      generatorPercent: pct(generatorS),
      serverPercent: serverS === null ? null : pct(serverS),
      otherPercent: otherS === null ? null : pct(otherS),
    };
  };
}

/** Other work below this many cores counts as an idle machine. */
const IDLE_CORES = 0.1;

/**
 * Waits (up to `maxWaitS`) until the machine has been idle for a whole
 * second, so a scenario does not start in the middle of someone else's
 * build. Returns whether it was idle; off Linux it cannot tell and says true.
 */
export async function waitForIdleMachine(maxWaitS: number, log: (line: string) => void): Promise<boolean> {
  const deadline = Date.now() + maxWaitS * 1000;
  let told = false;
  for (;;) {
    const before = machineBusySeconds();
    if (before === null) return true;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const busyCores = (machineBusySeconds() ?? before) - before;
    if (busyCores < IDLE_CORES) return true;
    if (Date.now() >= deadline) {
      log(`  machine still busy (${busyCores.toFixed(2)} cores in use by others): going ahead`);
      return false;
    }
    if (!told) log(`  machine busy (${busyCores.toFixed(2)} cores in use by others): waiting up to ${maxWaitS} s for it to be idle`);
    told = true;
  }
}
