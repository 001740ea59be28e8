// What the viewer saw, from the media element alone: play requests, the first frame, pauses,
// seeks, stalls and the end. The rules are in docs/sdk.md ("Detection rules"); in short, a frame
// presented (`requestVideoFrameCallback`) is the only proof that playback progresses, because
// players freeze the picture without `waiting` (Shaka sets the rate to 0; dash.js can run audio
// over a frozen picture) — testing notes, "Player behaviour seen here".
import { monotonic, queuedAt } from './clock';

/** Receives detected events; `at` is a `performance.now()` time when it is not "now". */
export type PlaybackSink = (type: string, fields?: Record<string, unknown>, at?: number) => void;

/** A freeze shorter than this is not a stall (issue 3: stalls are ≥ 250 ms). */
export const STALL_MS = 250;
const WATCHDOG_MS = 100;
// Near the end the picture stops for good; that is the end, not a stall.
const END_GUARD_S = 0.3;
// The browser fires an autoplay's `play` soon after its first picture; later than this, or nothing
// for this long after the autoplay was asked for, the browser blocked it (a later `play` is a click).
const AUTOPLAY_CONFIRM_MS = 1000;
const AUTOPLAY_WAIT_MS = 10_000;
// Players nudge the playhead over holes and stalls by fractions of a second; a viewer's seek moves it further.
const NUDGE_MS = 1000;

type FrameCallback = (now: number, meta: { mediaTime: number; width: number; height: number }) => void;
type FrameVideo = HTMLVideoElement & {
  requestVideoFrameCallback?: (cb: FrameCallback) => number;
  cancelVideoFrameCallback?: (handle: number) => void;
};

/** A play request made before the detector watched the element: when, and whether it was seen. */
export interface EarlierRequest {
  at: number;
  observed: boolean;
}

/** The playback state machine of one media element for one view. */
export class Playback {
  private requested = false;
  private started = false;
  private playingSeen = false;
  /** When an autoplay was asked for: the request, once the browser confirms it with `play`. */
  private autoplayAt: number | null = null;
  /** The first frame presented while an autoplay waits for `play` (a still, after the request). */
  private autoplayFrameAt: number | null = null;
  private paused = false;
  private ended = false;
  private seeking: { seekedAt?: number } | null = null;
  private stallSince: number | null = null;
  private waitingAt: number | null = null;
  private bufferingAt: number | null = null;
  private lastProgressAt = 0;
  private lastMediaTime = -1;
  private frameMs = 1000 / 30;
  private playheadMs = 0;
  private frameHandle: number | null = null;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private readonly listeners: Array<[string, EventListener]> = [];

  constructor(
    private readonly video: FrameVideo,
    private readonly emit: PlaybackSink,
    /** Called whenever playback moved or a stall opened: a suspected freeze is settled. */
    private readonly settled: () => void = () => undefined,
    private readonly hidden: () => boolean = () => typeof document !== 'undefined' && document.hidden,
    private readonly now: () => number = monotonic,
    /** When an element event was queued: a request is dated from the page's call, not the handler. */
    private readonly queued: (event: Event) => number = queuedAt,
  ) {}

  /**
   * Starts observing. `earlier` is a request made before: a video already playing counts as
   * requested then (else now); an element with `autoplay` set counts as asked to play then (else
   * now), once the browser confirms it with `play`.
   */
  start(earlier?: EarlierRequest): void {
    const on = (type: string, handler: (event: Event) => void) => {
      this.video.addEventListener(type, handler);
      this.listeners.push([type, handler]);
    };
    on('play', (event) => this.onPlay(this.autoplayAt ?? this.queued(event)));
    // CTA-2066 dates an autoplay's request from the page's instruction, not from the `play` the
    // browser fires once it has enough data (just before the first frame).
    on('loadstart', (event) => {
      if (this.video.autoplay && !this.requested) this.autoplayAt ??= this.queued(event);
    });
    on('playing', () => {
      this.playingSeen = true;
      if (!this.frames() && !this.video.seeking) this.progress(this.now(), this.video.currentTime);
    });
    on('pause', () => this.onPause());
    on('waiting', () => {
      if (this.started && !this.seeking && !this.paused) this.waitingAt ??= this.now();
    });
    on('seeking', () => this.onSeeking());
    on('seeked', () => this.onSeeked());
    on('ended', () => this.onEnded());
    on('timeupdate', () => {
      // While seeking, currentTime is the target: not progress, not the viewer's position.
      if (!this.frames() && !this.video.seeking) this.progress(this.now(), this.video.currentTime);
    });
    this.requestFrame();
    this.watchdog = setInterval(() => this.check(), WATCHDOG_MS);
    if (!this.video.paused && !this.video.ended) this.onPlay(earlier?.at ?? this.now(), earlier?.observed);
    else if (this.video.autoplay) this.autoplayAt = earlier?.at ?? this.now();
  }

  /** Stops observing; an open stall or seek ends here. */
  stop(): void {
    for (const [type, handler] of this.listeners) this.video.removeEventListener(type, handler);
    this.listeners.length = 0;
    if (this.frameHandle !== null) this.video.cancelVideoFrameCallback?.(this.frameHandle);
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.closeStall(this.now());
  }

  /** The player's own buffering signal (Shaka's `buffering` event), used when frames are not seen. */
  buffering(on: boolean): void {
    this.bufferingAt = on ? (this.bufferingAt ?? this.now()) : null;
  }

  /** The tab became visible again: frames resume, so the freeze clock restarts. */
  visible(): void {
    this.lastProgressAt = Math.max(this.lastProgressAt, this.now());
  }

  /** Started, not paused, seeking, stalled or ended: heartbeats are due. */
  get playing(): boolean {
    return this.started && !this.paused && !this.ended && !this.seeking && this.stallSince === null;
  }

  /**
   * Since when the detector is judging a moment it will date back: an autoplay not yet confirmed
   * (its request), or a freeze before it counts as a stall (its first `STALL_MS`); `null`
   * otherwise. Events of that span wait, so that the event dated back is sent before them.
   */
  frozenSince(): number | null {
    if (!this.requested && this.autoplayAt !== null) return this.autoplayAt;
    if (!this.started || this.paused || this.ended || this.seeking || this.stallSince !== null || !this.frames()) return null;
    const since = this.lastProgressAt + this.frameMs;
    return this.now() > since ? since : null;
  }

  /** Playhead in ms, as last seen. */
  get playhead(): number {
    return this.playheadMs;
  }

  private frames(): boolean {
    return typeof this.video.requestVideoFrameCallback === 'function' && !this.hidden();
  }

  private requestFrame(): void {
    if (typeof this.video.requestVideoFrameCallback !== 'function') return;
    this.frameHandle = this.video.requestVideoFrameCallback((now, meta) => {
      this.progress(now, meta.mediaTime);
      this.requestFrame();
    });
  }

  /** A play request at `at`: the view's first (or a replay after the end), or a resume. */
  private onPlay(at: number, observed = true): void {
    const frameAt = this.autoplayFrameAt;
    this.autoplayAt = this.autoplayFrameAt = null;
    if (!this.requested || this.ended) {
      // A replay after the end is a new play request of the same view.
      this.requested = true;
      this.ended = false;
      this.paused = false;
      this.emit('play_requested', observed ? {} : { observed: false }, at);
      // The browser shows an autoplay's first picture before it fires `play`.
      if (frameAt !== null && !this.started) {
        this.started = true;
        this.lastProgressAt = frameAt;
        this.emit('first_frame', {}, frameAt);
      }
    } else if (this.paused) {
      this.paused = false;
      this.emit('play', {}, at);
    }
    // Frames stopped while paused; the freeze clock starts at the resume.
    this.lastProgressAt = Math.max(this.lastProgressAt, at);
  }

  private onPause(): void {
    // The element pauses itself at the end; that is `ended`, not a pause.
    if (this.video.ended || this.ended || this.paused || !this.requested) return;
    const now = this.now();
    this.closeStall(now);
    this.paused = true;
    this.emit('pause', {}, now);
  }

  private onSeeking(): void {
    // Seeks before the first frame are the player choosing a start position: part of startup.
    if (!this.started) return;
    // A nudge changes nothing the viewer sees: a stall goes on until frames move.
    if (!this.seeking && Math.abs(this.video.currentTime * 1000 - this.playheadMs) < NUDGE_MS) return;
    const now = this.now();
    this.closeStall(now);
    if (this.seeking) {
      this.seeking.seekedAt = undefined;
      return;
    }
    this.seeking = {};
    this.emit('seek_start', { from_ms: this.playheadMs }, now);
  }

  private onSeeked(): void {
    if (!this.seeking) return;
    const now = this.now();
    this.seeking.seekedAt = now;
    this.playheadMs = Math.round(this.video.currentTime * 1000);
    // A paused viewer sees the new frame at once; a playing one when playback moves again.
    if (this.paused) this.endSeek(now);
  }

  private onEnded(): void {
    const now = this.now();
    this.closeStall(now);
    if (this.seeking) this.endSeek(now);
    if (!this.ended && this.requested) {
      this.ended = true;
      this.emit('ended', {}, now);
    }
  }

  /** Playback moved at `at`: a presented frame, or (without frames) a new `currentTime`. */
  private progress(at: number, mediaTime: number): void {
    if (mediaTime === this.lastMediaTime) return;
    const step = (mediaTime - this.lastMediaTime) * 1000;
    if (this.lastMediaTime >= 0 && step > 5 && step < 100) this.frameMs = step;
    this.lastMediaTime = mediaTime;
    this.playheadMs = Math.round(mediaTime * 1000);
    if (!this.requested && this.autoplayAt !== null && this.frames()) this.autoplayFrameAt ??= at;
    if (!this.requested || this.paused || this.ended) return;
    if (!this.started) {
      // CTA-2066: startup ends at the first frame rendered after the request, even a still one
      // that waits for more data (a later freeze is judged by the stall rule). Without frames,
      // progressing means the playing state and a moving playhead.
      if (!this.frames() && !this.playingSeen) return;
      this.started = true;
      this.emit('first_frame', {}, at);
    } else if (this.seeking) {
      if (this.seeking.seekedAt === undefined) return;
      this.endSeek(at);
    } else {
      this.closeStall(at);
    }
    this.lastProgressAt = at;
    this.settled();
  }

  /** Opens a stall once playback has been frozen for `STALL_MS`, dated from when it froze. */
  private check(): void {
    const now = this.now();
    if (!this.requested && this.autoplayAt !== null && now - (this.autoplayFrameAt ?? this.autoplayAt) > (this.autoplayFrameAt === null ? AUTOPLAY_WAIT_MS : AUTOPLAY_CONFIRM_MS)) {
      this.autoplayAt = this.autoplayFrameAt = null;
    }
    // A judgement that ended without a stall (a pause, a seek, the end) lets the events it held go.
    if (this.frozenSince() === null) this.settled();
    if (!this.started || this.paused || this.ended || this.seeking || this.stallSince !== null) return;
    const { currentTime, duration } = this.video;
    if (Number.isFinite(duration) && duration - currentTime < END_GUARD_S) return;
    let since: number | null;
    if (this.frames()) {
      since = this.lastProgressAt + this.frameMs;
    } else {
      since = this.waitingAt ?? this.bufferingAt;
      if (since !== null) since = Math.max(since, this.lastProgressAt);
    }
    if (since !== null && now - since >= STALL_MS) {
      this.stallSince = since;
      this.emit('stall_start', {}, since);
      this.settled();
    }
  }

  private closeStall(at: number): void {
    this.waitingAt = null;
    if (this.stallSince === null) return;
    this.stallSince = null;
    this.emit('stall_end', {}, at);
  }

  private endSeek(at: number): void {
    this.seeking = null;
    this.lastProgressAt = at;
    this.emit('seek_end', { to_ms: this.playheadMs }, at);
  }
}
