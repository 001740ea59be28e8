// Delivery: batches go out in order, one request at a time, and leave the queue only when the
// collector has acknowledged them (2xx: durable on the server). The queue is mirrored to storage
// so a reload or a crash loses nothing, and retries back off so a blocked endpoint is never
// hammered (reference/metrics-and-beacons.md §d.9).
import { fnv1a } from './hash';
import { Batch, body, WireEvent, WireView } from './wire';

/** What the outbox needs from the page; tests pass their own. */
export interface Delivery {
  fetch: (url: string, init: RequestInit) => Promise<{ status: number; headers: { get(name: string): string | null } }>;
  sendBeacon?: (url: string, data: Blob) => boolean;
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem' | 'key' | 'length'>;
  now: () => number;
  random: () => number;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (timer: unknown) => void;
}

/** Limits of the outbox. */
export interface OutboxLimits {
  /** A batch closes at this many events (DESIGN §4: 50). */
  maxBatchEvents: number;
  /** An open batch is sent after this long (DESIGN §4: 10 s). */
  flushMs: number;
  /** Events kept while the collector is unreachable; past it heartbeats go first, then the oldest. */
  maxQueuedEvents: number;
  /** Ceiling of the exponential backoff. */
  maxBackoffMs: number;
}

export const DEFAULT_LIMITS: OutboxLimits = { maxBatchEvents: 50, flushMs: 10_000, maxQueuedEvents: 2000, maxBackoffMs: 60_000 };

const STORAGE_PREFIX = 'openqoe:outbox:';
// A stored queue no page has touched for this long belongs to a page that died without `pagehide`.
const ORPHAN_MS = 30_000;
// Browsers refuse keepalive and beacon bodies above 64 KiB in flight.
const KEEPALIVE_BYTES = 60_000;

interface Stored {
  at: number;
  closed: boolean;
  url: string;
  key: string;
  batches: Batch[];
}

/** The ordered, persistent, retrying queue of batches for one page. */
export class Outbox {
  private queue: Batch[] = [];
  private open: Batch | null = null;
  private inFlight = false;
  private failures = 0;
  private retryAt = 0;
  private dropped = 0;
  /** The page is going away: what is stored is for the next page to send. */
  private unloaded = false;
  private timer: unknown = null;
  private timerDue = 0;
  private readonly storageKey: string;

  constructor(
    private readonly url: string,
    private readonly key: string,
    pageId: string,
    private readonly io: Delivery,
    private readonly limits: OutboxLimits = DEFAULT_LIMITS,
  ) {
    this.storageKey = `${STORAGE_PREFIX}${pageId}:${fnv1a(url + key).toString(36)}`;
    this.adoptOrphans();
  }

  /** Appends an event of `view`; `urgent` sends it now (first frame, fatal error, view end). */
  add(view: WireView, event: WireEvent, urgent: boolean): void {
    if (this.dropped > 0) {
      event.queue_dropped = this.dropped;
      this.dropped = 0;
    }
    const open = this.open;
    if (open && open.view.id === view.id && sameProps(open.view, view)) {
      open.events.push(event);
    } else {
      this.close();
      this.open = { view: { ...view, props: { ...view.props } }, events: [event] };
    }
    if (urgent || this.open!.events.length >= this.limits.maxBatchEvents) this.close();
    this.bound();
    this.persist();
    this.schedule(urgent ? 0 : this.limits.flushMs);
  }

  /** Sends what is open now (subject to backoff). */
  flush(): void {
    this.close();
    this.persist();
    this.pump();
  }

  /** The page came back from the back/forward cache: its queue is its own again. */
  resume(): void {
    this.unloaded = false;
    this.persist();
  }

  /** Events not yet acknowledged (for tests and diagnostics). */
  pending(): number {
    return this.queue.reduce((n, b) => n + b.events.length, 0) + (this.open?.events.length ?? 0);
  }

  /**
   * The page is going away: every batch goes to `sendBeacon` (else `fetch` keepalive), whose fate
   * the page never learns. They also stay in storage, marked closed, for the next page to send
   * again: the server drops duplicates by (view id, seq), so the resend is harmless.
   */
  unload(): void {
    this.close();
    for (const batch of this.queue) {
      const payload = body(batch, this.key, this.io.now());
      const sent = payload.length < KEEPALIVE_BYTES && this.io.sendBeacon?.(this.url, new Blob([payload], { type: 'text/plain' }));
      if (!sent) void this.io.fetch(this.url, request(payload, true)).catch(() => undefined);
    }
    this.unloaded = true;
    this.persist();
  }

  private close(): void {
    if (this.open) {
      this.queue.push(this.open);
      this.open = null;
    }
  }

  /** Arms the flush timer for `ms` from now (or the end of the backoff), unless it fires sooner. */
  private schedule(ms: number): void {
    const now = this.io.now();
    const due = now + Math.max(ms, this.retryAt - now);
    if (this.timer !== null) {
      if (this.timerDue <= due) return;
      this.io.clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = this.io.setTimeout(() => {
      this.timer = null;
      this.flush();
    }, due - now);
  }

  private pump(): void {
    if (this.inFlight || this.queue.length === 0) return;
    if (this.io.now() < this.retryAt) return this.schedule(0);
    const batch = this.queue[0];
    const payload = body(batch, this.key, this.io.now());
    this.inFlight = true;
    this.io
      .fetch(this.url, request(payload, payload.length < KEEPALIVE_BYTES))
      .then(
        (response) => this.answered(batch, response.status, response.headers.get('retry-after')),
        () => this.answered(batch, 0, null),
      );
  }

  private answered(batch: Batch, status: number, retryAfter: string | null): void {
    this.inFlight = false;
    const retry = status === 0 || status === 408 || status === 429 || status >= 500;
    if (retry) {
      this.failures += 1;
      this.retryAt = this.io.now() + backoff(this.failures, retryAfter, this.io.now(), this.io.random, this.limits.maxBackoffMs);
      this.schedule(0);
      return;
    }
    // 2xx: durable. Any other 4xx names a batch the collector will never take (bad key, malformed):
    // retrying it would block every later batch, so it is dropped and counted.
    if (status < 200 || status >= 300) this.dropped += batch.events.length;
    if (this.queue[0] === batch) this.queue.shift();
    this.failures = 0;
    this.retryAt = 0;
    this.persist();
    this.pump();
  }

  /** Keeps the queue under its limit: heartbeats go first, then the oldest batches. */
  private bound(): void {
    let excess = this.pending() - this.limits.maxQueuedEvents;
    // The batch in flight (queue[0]) is left alone.
    const from = this.inFlight ? 1 : 0;
    for (let i = from; excess > 0 && i < this.queue.length; i++) {
      const kept = this.queue[i].events.filter((e) => e.type !== 'heartbeat' || excess-- <= 0);
      this.dropped += this.queue[i].events.length - kept.length;
      this.queue[i].events = kept;
    }
    while (excess > 0 && this.queue.length > from) {
      const [oldest] = this.queue.splice(from, 1);
      this.dropped += oldest.events.length;
      excess -= oldest.events.length;
    }
    this.queue = this.queue.filter((b, i) => b.events.length > 0 || (i === 0 && this.inFlight));
  }

  private persist(): void {
    const storage = this.io.storage;
    if (!storage) return;
    const batches = this.open ? [...this.queue, this.open] : this.queue;
    try {
      if (batches.length === 0) storage.removeItem(this.storageKey);
      else storage.setItem(this.storageKey, JSON.stringify({ at: this.io.now(), closed: this.unloaded, url: this.url, key: this.key, batches } satisfies Stored));
    } catch {
      // Storage full or denied: the in-memory queue still delivers while the page lives.
    }
  }

  /** Takes over the queues of pages that went away (reload, closed tab, crash) before this one. */
  private adoptOrphans(): void {
    const storage = this.io.storage;
    if (!storage) return;
    const keys: string[] = [];
    for (let i = 0; i < storage.length; i++) {
      const key = storage.key(i);
      if (key && key.startsWith(STORAGE_PREFIX) && key !== this.storageKey) keys.push(key);
    }
    for (const key of keys) {
      try {
        const stored = JSON.parse(storage.getItem(key) ?? 'null') as Stored | null;
        if (!stored || stored.url !== this.url || stored.key !== this.key) continue;
        if (!(stored.closed || this.io.now() - stored.at > ORPHAN_MS)) continue;
        storage.removeItem(key);
        this.queue.push(...stored.batches.filter((b) => b && b.view && Array.isArray(b.events)));
      } catch {
        storage.removeItem(key);
      }
    }
    if (this.queue.length > 0) {
      this.persist();
      this.schedule(0);
    }
  }
}

function request(payload: string, keepalive: boolean): RequestInit {
  // text/plain is a CORS-safelisted type: no preflight, one round trip per batch.
  return { method: 'POST', body: payload, keepalive, credentials: 'omit', headers: { 'content-type': 'text/plain' } };
}

function sameProps(a: WireView, b: WireView): boolean {
  const ka = Object.keys(a.props);
  return ka.length === Object.keys(b.props).length && ka.every((k) => a.props[k] === b.props[k]);
}

/**
 * Milliseconds to wait after the `failures`-th failure in a row: exponential from 1 s with full
 * jitter in [½, 1], capped, and never sooner than the server's `Retry-After` (seconds or a date).
 */
export function backoff(failures: number, retryAfter: string | null, now: number, random: () => number, maxMs: number): number {
  const exponential = Math.min(maxMs, 1000 * 2 ** Math.min(failures - 1, 20)) * (0.5 + random() / 2);
  let told = 0;
  if (retryAfter) {
    const seconds = Number(retryAfter);
    told = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
  }
  return Math.max(exponential, Number.isFinite(told) ? Math.min(told, 3_600_000) : 0);
}
