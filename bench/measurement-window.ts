/**
 * A load generator's warm-up or measured window: `ms` long, or shorter in a
 * capped run (--max-requests) once every request is sent and answered. The
 * generator learns, through `register`, the function to call at that moment;
 * it ends the wait and clears the timer, so nothing lingers after the run.
 */
export function measurementWindow(
  ms: number,
  capped: boolean,
  allAnswered: () => boolean,
  register: (finish: () => void) => void,
): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (!capped) return;
    const finish = () => { clearTimeout(timer); resolve(); };
    register(finish);
    if (allAnswered()) finish();
  });
}

/** How long a generator waits, after its window, for answers already on the wire. */
const DRAIN_MS = 5000;

/**
 * After the window: lets the answers still in flight arrive, but not
 * forever. The generator calls the function it gets through `register` when
 * its last request is answered.
 */
export function drainInFlight(inFlight: number, register: (idle: () => void) => void): Promise<void> {
  if (inFlight === 0) return Promise.resolve();
  return new Promise((resolve) => {
    register(resolve);
    setTimeout(resolve, DRAIN_MS).unref();
  });
}
