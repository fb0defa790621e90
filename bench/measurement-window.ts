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
