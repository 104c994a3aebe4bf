import type { StepEvent } from './train-epochs.js';

/**
 * Step events as progress lines, at most one every `intervalMs` per stage (plus the last
 * step), so a long run shows it is alive without flooding the log.
 */
export function progressReporter(
  write: (line: string) => void,
  intervalMs = 2000,
): (event: StepEvent) => void {
  const last = new Map<string, number>();
  return (event) => {
    const now = performance.now();
    const final = event.step + 1 === event.totalSteps;
    if (!final && now - (last.get(event.stage) ?? -Infinity) < intervalMs) return;
    last.set(event.stage, now);
    const percent = Math.floor((100 * (event.step + 1)) / event.totalSteps);
    write(
      `${event.stage} step ${event.step + 1}/${event.totalSteps} (${percent} %) loss ${event.loss.toFixed(4)} ` +
        `lr ${event.lr.toExponential(2)} ${event.imagesPerSecond.toFixed(1)} img/s`,
    );
  };
}
