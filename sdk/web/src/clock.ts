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

/**
 * When the browser queued `event`, on the `performance.now()` scale. A media element creates its
 * `play` when the page calls `play()` and dispatches it in a later task, so on a busy page the
 * handler runs tens of ms after the request it reports. Engines whose `timeStamp` is not on this
 * scale (older ones gave epoch ms) or is missing get the handler's time.
 */
export function queuedAt(event: Event): number {
  const now = monotonic();
  const at = event.timeStamp;
  return Number.isFinite(at) && at > 0 && at <= now ? at : now;
}
