// Timestamps: the page's monotonic clock anchored once to the wall clock, so durations between
// events never jump when the device's wall clock is adjusted mid-view (the server corrects the
// anchor's skew with `sent_at`).

const origin = typeof performance !== 'undefined' && performance.timeOrigin ? performance.timeOrigin : Date.now();

/** Milliseconds on the page's monotonic clock (the `performance.now()` scale). */
export function monotonic(): number {
  return typeof performance !== 'undefined' ? performance.now() : Date.now() - origin;
}

/** Epoch milliseconds for a `performance.now()` reading. */
export function epoch(at: number = monotonic()): number {
  return Math.round(origin + at);
}
