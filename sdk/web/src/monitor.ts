// One monitored player: the current view (id, seq, props), its detectors, heartbeats, and the
// page's outbox. Views follow DESIGN §2: one play attempt of one content; `newView` on content change.
import type { Adapter, PlayerReport } from './adapter';
import { html5 } from './adapters/html5';
import { epoch, monotonic } from './clock';
import { deviceProps, optedOut, randomId, sampled, sessionId, viewerId, viewerStore } from './environment';
import { Delivery, Outbox } from './outbox';
import { type EarlierRequest, Playback } from './playback';
import { RenditionTracker } from './rendition';
import { requestBefore } from './requests';
import type { Props, Rendition, WireView } from './wire';

// Players retry a broken resource in a loop (dash.js: hundreds of errors a second); the same
// error within this span is counted, not sent, and the next one sent says how many it stands for.
const ERROR_REPEAT_MS = 5000;

/** The SDK's version, sent as `sdk_version`. */
export const VERSION = '0.1.0';

/** Options of `monitor`. */
export interface MonitorOptions {
  /** Base URL of the openqoe server, e.g. `https://qoe.example.com`. */
  collector: string;
  /** The environment's public write key. */
  key: string;
  /** View properties (dimensions): `content_id`, `title`, `stream_type`, `custom_1`… */
  props?: Props;
  /** When the app created the player (epoch ms): starts player startup time; default now. */
  playerInitTime?: number;
  /** `false`: no stored viewer id; a string: the app's own (pseudonymous) viewer id. */
  viewerId?: string | false;
  /** Where the SDK keeps its random viewer id: `device` (localStorage, default) or `session`
   * (sessionStorage: this tab's session only, so unique viewers count sessions). */
  viewerIdScope?: 'device' | 'session';
  /** Send nothing when the browser's Do Not Track or Global Privacy Control is on (default
   * `true`; `false` only where the viewer consented otherwise). */
  respectDoNotTrack?: boolean;
  /** Share of viewers monitored, 0–1 (per viewer, so a viewer's views are all in or all out). */
  sampleRate?: number;
  /** Heartbeat period while playing, ms (default 10 s, DESIGN §4). */
  heartbeatMs?: number;
}

/** The handle `monitor` returns. */
export interface MonitorHandle {
  /** The current view's id; `null` when not monitored (sampled out, Do Not Track) or ended. */
  readonly viewId: string | null;
  /** Merges view properties (later values win). */
  update(props: Props): void;
  /** Ends the current view and starts one for new content with these properties. */
  newView(props?: Props): void;
  /** Marks an ad break: its time is neither startup nor rebuffering. */
  adBreakStart(): void;
  adBreakEnd(): void;
  /** Reports an application error (e.g. DRM licence) with its fatal flag. */
  error(code: string, message?: string, fatal?: boolean): void;
  /** Ends the view (the viewer left the content). */
  end(): void;
  /** Ends the view and stops monitoring the player. */
  destroy(): void;
}

const live = new Set<Monitor>();
const outboxes = new Map<string, Outbox>();
const pageId = randomId();
let pageListening = false;
let firstView = true;

function pageDelivery(): Delivery {
  return {
    fetch: (url, init) => fetch(url, init),
    sendBeacon: typeof navigator !== 'undefined' && navigator.sendBeacon ? (url, data) => navigator.sendBeacon(url, data) : undefined,
    // The outbox survives reloads in localStorage (queued beacons, never an identifier).
    storage: viewerStore('device'),
    now: () => Date.now(),
    random: Math.random,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  };
}

function outboxFor(collector: string, key: string): Outbox {
  const url = `${collector.replace(/\/+$/, '')}/v1/events?key=${encodeURIComponent(key)}`;
  let outbox = outboxes.get(url);
  if (!outbox) outboxes.set(url, (outbox = new Outbox(url, key, pageId, pageDelivery())));
  return outbox;
}

// The page going away ends its views and hands the queue to sendBeacon; a hidden tab flushes, as
// it may never run again (mobile browsers kill background tabs without `pagehide`).
function listenToPage(): void {
  if (pageListening || typeof addEventListener === 'undefined') return;
  pageListening = true;
  addEventListener('pagehide', (event) => {
    for (const monitor of live) monitor.pageHidden((event as PageTransitionEvent).persisted);
    for (const outbox of outboxes.values()) outbox.unload();
  });
  addEventListener('pageshow', (event) => {
    if ((event as PageTransitionEvent).persisted) for (const outbox of outboxes.values()) outbox.resume();
  });
  document.addEventListener('visibilitychange', () => {
    for (const monitor of live) monitor.visibility(document.hidden);
    if (document.hidden) for (const outbox of outboxes.values()) outbox.flush();
  });
}

/** One view's id and numbering; an ending view keeps its own while the next one starts. */
class ViewLog {
  readonly id = randomId();
  seq = 0;
  /** The last `ts` sent: events leave in seq order, so none is dated before it. */
  lastTs = 0;
  lastError: { key: string; at: number; repeats: number } | null = null;
}

/**
 * A view the app ended: it takes the player's errors until the end of the current task, then
 * sends `view_end`. An app that ends the view in its own error listener runs before the SDK's
 * listener when it registered first; the error that ended playback must still be in the view.
 */
interface EndingView {
  view: ViewLog;
  wire: WireView;
  reason: string;
  at: number;
}

class Monitor implements MonitorHandle {
  private view: ViewLog | null = null;
  private ending: EndingView | null = null;
  /** No view has watched the element yet: a request made before monitoring belongs to the first. */
  private firstPlayback = true;
  private props: Props;
  private playerProps: Props = {};
  private video: HTMLVideoElement | null = null;
  private playback: Playback | null = null;
  private renditions = this.renditionTracker();
  private readonly device = deviceProps();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  /** Events that happened while the picture may be freezing; see `Playback.frozenSince`. */
  private held: Array<[string, Record<string, unknown>, number]> = [];
  private detach: () => void;
  private readonly session: string;
  private readonly outbox: Outbox;
  private readonly onResize = () => this.video && this.renditions.pictureSize(this.video.videoWidth, this.video.videoHeight);

  constructor(
    private readonly adapter: Adapter,
    private readonly options: MonitorOptions,
    /** The viewer id sent with every batch; none when the app opted out or storage is denied. */
    private readonly viewer: string | undefined,
  ) {
    this.props = { ...options.props };
    this.session = sessionId(Date.now());
    this.outbox = outboxFor(options.collector, options.key);
    live.add(this);
    listenToPage();
    // The adapter first: a player that has its element already tells it now, so a request the
    // page made before monitoring can date the view's start.
    this.detach = adapter.attach(this.report());
    this.startView(true);
  }

  get viewId(): string | null {
    return this.view?.id ?? null;
  }

  update(props: Props): void {
    Object.assign(this.props, props);
  }

  newView(props: Props = {}): void {
    this.endView('new_view');
    this.firstPlayback = false;
    this.props = { ...this.options.props, ...props };
    this.startView(false);
  }

  adBreakStart(): void {
    this.emit('ad_break_start');
  }

  adBreakEnd(): void {
    this.emit('ad_break_end');
  }

  error(code: string, message?: string, fatal = true): void {
    this.reportError(code, message, fatal);
  }

  end(): void {
    this.endView('end');
  }

  destroy(): void {
    this.endView('destroy');
    live.delete(this);
    // Listeners removed while the player dispatches its error are skipped by DOM targets: stop
    // listening once this task is over, so the error that made the app destroy us still arrives.
    setTimeout(() => {
      try {
        this.detach();
      } catch {
        // The app destroyed the player first; its listeners went with it.
      }
    }, 0);
  }

  /** `pagehide`: a page leaving for good ends the view; one entering the bfcache keeps it. */
  pageHidden(persisted: boolean): void {
    if (persisted) return;
    this.endView('pagehide');
    // The page is going: the end cannot wait for the task to finish.
    this.finishEnding();
  }

  /** `visibilitychange`: a last heartbeat before the tab may be frozen; frames restart on return. */
  visibility(hidden: boolean): void {
    if (hidden) this.beat();
    else this.playback?.visible();
  }

  private report(): PlayerReport {
    return {
      media: (video) => this.useMedia(video),
      props: (props) => {
        Object.assign(this.playerProps, props);
        Object.assign(this.props, props);
      },
      rendition: (rendition: Rendition) => this.renditions.select(rendition),
      error: (code, message, fatal) => this.reportError(code, message, fatal),
      segment: (url) => {
        // The CDN is the segment host unless the app named it.
        if (this.options.props?.cdn !== undefined) return;
        try {
          const host = new URL(url, location.href).host;
          this.playerProps.cdn = host;
          this.props.cdn = host;
        } catch {
          // Not a URL: nothing to learn.
        }
      },
      buffering: (on) => this.playback?.buffering(on),
    };
  }

  private reportError(code: string, message: string | undefined, fatal: boolean): void {
    // In the task that ended a view, the player is still dispatching what made the app end it.
    const ending = this.ending;
    const view = ending?.view ?? this.view;
    if (!view) return;
    const now = monotonic();
    const key = `${fatal}:${code}`;
    const last = view.lastError;
    if (last && last.key === key && now - last.at < ERROR_REPEAT_MS) {
      last.repeats += 1;
      return;
    }
    view.lastError = { key, at: now, repeats: 0 };
    const fields = { code, message, fatal, repeats: last && last.key === key && last.repeats > 0 ? last.repeats : undefined };
    if (ending) this.record('error', fields, now, ending);
    else this.emit('error', fields);
  }

  private useMedia(video: HTMLVideoElement): void {
    if (video === this.video) return;
    this.stopDetectors();
    this.video = video;
    if (this.viewId) this.startDetectors();
  }

  private startView(first: boolean): void {
    this.view = new ViewLog();
    Object.assign(this.props, this.playerProps);
    const earlier = this.earlierRequest();
    if (first) {
      // A player asked to play before monitoring existed by then, and was ready.
      const now = monotonic();
      const requested = earlier?.at ?? now;
      const init = Math.min(this.options.playerInitTime !== undefined ? this.options.playerInitTime - epoch(0) : now, requested);
      this.emit('player_init', { page_load_ms: firstView ? Math.round(init) : undefined }, init);
      firstView = false;
      this.emit('player_ready', {}, Math.min(now, requested));
    }
    this.renditions = this.renditionTracker();
    this.startDetectors(earlier);
  }

  private renditionTracker(): RenditionTracker {
    return new RenditionTracker((r) => this.emit('rendition_change', { ...r }));
  }

  /** The page's request made before the first view watched its element (see `requests.ts`). */
  private earlierRequest(): EarlierRequest | undefined {
    return this.firstPlayback && this.video ? requestBefore(this.video) : undefined;
  }

  /** Ends the view now; its `view_end` follows at the end of this task (see `EndingView`). */
  private endView(reason: string): void {
    const view = this.view;
    if (!view) return;
    this.stopDetectors();
    this.finishEnding();
    this.ending = { view, wire: this.wireView(view), reason, at: monotonic() };
    this.view = null;
    setTimeout(() => this.finishEnding(), 0);
  }

  private finishEnding(): void {
    const ending = this.ending;
    if (!ending) return;
    this.ending = null;
    this.record('view_end', { reason: ending.reason }, ending.at, ending);
  }

  private startDetectors(earlier = this.earlierRequest()): void {
    const video = this.video;
    if (!video || this.playback) return;
    this.playback = new Playback(video, (type, fields, at) => this.record(type, fields, at), () => this.release());
    this.playback.start(earlier);
    this.firstPlayback = false;
    video.addEventListener('resize', this.onResize);
    if (video.videoWidth > 0) this.onResize();
    const period = this.options.heartbeatMs ?? 10_000;
    this.heartbeat = setInterval(() => this.beat(), period);
  }

  private stopDetectors(): void {
    this.playback?.stop();
    this.playback = null;
    this.release();
    this.video?.removeEventListener('resize', this.onResize);
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }

  private beat(): void {
    const video = this.video;
    if (!video || !this.playback?.playing) return;
    const buffered = video.buffered;
    let bufferMs: number | undefined;
    for (let i = 0; i < buffered.length; i++) {
      if (buffered.start(i) <= video.currentTime && video.currentTime <= buffered.end(i)) {
        bufferMs = Math.round((buffered.end(i) - video.currentTime) * 1000);
      }
    }
    const quality = typeof video.getVideoPlaybackQuality === 'function' ? video.getVideoPlaybackQuality() : undefined;
    this.emit('heartbeat', {
      playhead_ms: this.playback.playhead,
      buffer_ms: bufferMs,
      dropped_frames: quality?.droppedVideoFrames,
      ...this.adapter.sample?.(),
    });
  }

  /** An event from the player or the app: it waits while a freeze is being judged. */
  private emit(type: string, fields: Record<string, unknown> = {}, at: number = monotonic()): void {
    const frozenSince = this.playback?.frozenSince();
    if (frozenSince != null && at >= frozenSince) this.held.push([type, fields, at]);
    else this.record(type, fields, at);
  }

  private release(): void {
    const held = this.held;
    this.held = [];
    for (const [type, fields, at] of held) this.record(type, fields, at);
  }

  /** Appends one event to the current view, or to an ending one; `at` is a `performance.now()` time. */
  private record(type: string, fields: Record<string, unknown> = {}, at?: number, ending?: EndingView): void {
    const view = ending?.view ?? this.view;
    if (!view) return;
    // Events leave in seq order; a stall dated back to when the picture froze never precedes
    // an event already sent.
    const ts = Math.max(epoch(at), view.lastTs);
    view.lastTs = ts;
    const event = { seq: view.seq++, ts, type, ...defined(fields) };
    const urgent = type === 'first_frame' || type === 'view_end' || (type === 'error' && fields.fatal === true);
    this.outbox.add(ending?.wire ?? this.wireView(view), event, urgent);
  }

  private wireView(view: ViewLog): WireView {
    const props: Props = { ...this.device, sdk_name: 'openqoe-web', sdk_version: VERSION, ...defined(this.props) };
    if (this.video && this.video.clientWidth > 0) {
      props.player_width = Math.round(this.video.clientWidth * (globalThis.devicePixelRatio || 1));
      props.player_height = Math.round(this.video.clientHeight * (globalThis.devicePixelRatio || 1));
    }
    return { id: view.id, viewer_id: this.viewer, session_id: this.session, props };
  }
}

function defined<T extends Record<string, unknown>>(fields: T): T {
  const out = {} as Record<string, unknown>;
  for (const key in fields) if (fields[key] !== undefined) out[key] = fields[key];
  return out as T;
}

/** Starts monitoring a `<video>` element or a player adapter; returns the handle. */
export function monitor(target: HTMLVideoElement | Adapter, options: MonitorOptions): MonitorHandle {
  const adapter = 'attach' in target ? target : html5(target);
  const viewer = options.viewerId === false ? undefined : options.viewerId ?? viewerId(viewerStore(options.viewerIdScope));
  // Without a viewer id, sampling falls back to a draw for this player alone.
  if (((options.respectDoNotTrack ?? true) && optedOut()) || !sampled(options.sampleRate ?? 1, viewer ?? randomId())) return unmonitored;
  return new Monitor(adapter, options, viewer);
}

const unmonitored: MonitorHandle = {
  viewId: null,
  update() {},
  newView() {},
  adBreakStart() {},
  adBreakEnd() {},
  error() {},
  end() {},
  destroy() {},
};
