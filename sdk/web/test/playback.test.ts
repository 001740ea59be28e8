// The detection rules (docs/sdk.md), one table row per rule, on a scripted media element.
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import { EarlierRequest, Playback } from '../src/playback';

type FrameCallback = (now: number, meta: { mediaTime: number; width: number; height: number }) => void;

/** Just enough of an HTMLVideoElement: events, the state the detector reads, and frame callbacks. */
class ScriptedVideo extends EventTarget {
  paused = true;
  autoplay = false;
  ended = false;
  seeking = false;
  currentTime = 0;
  duration = 40;
  private frameCallback: FrameCallback | null = null;
  requestVideoFrameCallback(cb: FrameCallback): number {
    this.frameCallback = cb;
    return 1;
  }
  cancelVideoFrameCallback(): void {
    this.frameCallback = null;
  }
  present(now: number, mediaTime: number): void {
    const cb = this.frameCallback;
    this.frameCallback = null;
    this.currentTime = mediaTime;
    cb?.(now, { mediaTime, width: 640, height: 360 });
  }
}

/** A step: at `t` ms, do something to the element; frames are `[from, to, mediaFrom]` runs at 30 fps. */
type Step = [number, 'play' | 'pause' | 'frames' | 'seek' | 'seeked' | 'nudge' | 'ended' | 'autoplay-load', number?, number?];

/** How the element stands when the detector starts watching it, and a request seen before. */
interface Before {
  playing?: boolean;
  autoplay?: boolean;
  earlier?: EarlierRequest;
}

function run(steps: Step[], before: Before = {}): string[] {
  mock.timers.enable({ apis: ['setInterval'] });
  let clock = 0;
  const video = new ScriptedVideo();
  video.paused = !before.playing;
  video.autoplay = !!before.autoplay;
  const out: string[] = [];
  const show = (fields: Record<string, unknown> = {}) => (fields.observed === false ? ' (unobserved)' : '');
  const playback = new Playback(video as unknown as HTMLVideoElement, (type, fields, at) => out.push(`${type}@${Math.round(at ?? clock)}${show(fields)}`), () => undefined, () => false, () => clock, () => clock);
  playback.start(before.earlier);
  const advance = (to: number) => {
    while (clock + 100 <= to) {
      clock += 100;
      mock.timers.tick(100);
    }
    clock = to;
  };
  const fire = (type: string) => video.dispatchEvent(new Event(type));
  for (const [t, action, a = 0, b = 0] of steps) {
    if (action === 'frames') {
      // Frames from t to a (ms), media time from b (s).
      for (let at = t, media = b; at <= a; at += 1000 / 30, media += 1 / 30) {
        advance(at);
        video.present(at, media);
      }
      continue;
    }
    advance(t);
    if (action === 'autoplay-load') {
      video.autoplay = true;
      fire('loadstart');
    } else if (action === 'play') {
      video.paused = false;
      fire('play');
      fire('playing');
    } else if (action === 'pause') {
      video.paused = true;
      fire('pause');
    } else if (action === 'seek' || action === 'nudge') {
      video.seeking = true;
      video.currentTime = a;
      fire('seeking');
      if (action === 'nudge') {
        video.seeking = false;
        fire('seeked');
      }
    } else if (action === 'seeked') {
      video.seeking = false;
      fire('seeked');
    } else if (action === 'ended') {
      video.ended = true;
      video.paused = true;
      fire('pause');
      fire('ended');
    }
  }
  playback.stop();
  mock.timers.reset();
  return out;
}

const cases: Array<[string, Step[], string[], Before?]> = [
  ['startup: the request to the first frame', [[0, 'play'], [500, 'frames', 1000, 0]], ['play_requested@0', 'first_frame@500']],
  // CTA-2066: startup ends at the first frame rendered; what follows is judged by the stall rule.
  ['a still first frame ends startup; a short wait after it is no stall', [[0, 'play'], [300, 'frames', 300, 0], [500, 'frames', 1000, 0.033]], ['play_requested@0', 'first_frame@300']],
  ['a still first frame ends startup; a long wait after it is a stall', [[0, 'play'], [300, 'frames', 300, 0], [700, 'frames', 1000, 0.033]], ['play_requested@0', 'first_frame@300', 'stall_start@333', 'stall_end@700']],
  // See issue 19: dash.js tells its element ~150 ms after the page's play(); the page's call counts.
  ['a request seen before the detector watched the element dates the view', [[200, 'frames', 500, 0]], ['play_requested@-150', 'first_frame@200'], { playing: true, earlier: { at: -150, observed: true } }],
  ['an element playing before monitoring, request unseen: now, marked unobserved', [[200, 'frames', 500, 0]], ['play_requested@0 (unobserved)', 'first_frame@200'], { playing: true, earlier: { at: 0, observed: false } }],
  ['an element playing with no earlier request known: now', [[200, 'frames', 500, 0]], ['play_requested@0', 'first_frame@200'], { playing: true }],
  ['autoplay: requested when its load starts, once the browser plays', [[0, 'autoplay-load'], [400, 'play'], [450, 'frames', 800, 0]], ['play_requested@0', 'first_frame@450']],
  ['autoplay whose load started before monitoring: from that load', [[300, 'play'], [350, 'frames', 800, 0]], ['play_requested@-100', 'first_frame@350'], { autoplay: true, earlier: { at: -100, observed: true } }],
  ['an element with autoplay set when watched is asked to play from then', [[300, 'play'], [350, 'frames', 800, 0]], ['play_requested@0', 'first_frame@350'], { autoplay: true }],
  ['autoplay: the first picture, shown before the browser plays, ends startup', [[0, 'autoplay-load'], [300, 'frames', 300, 0], [320, 'play'], [350, 'frames', 800, 0.033]], ['play_requested@0', 'first_frame@300']],
  ['an autoplay the browser blocked: a later play is the viewer\'s request', [[0, 'autoplay-load'], [300, 'frames', 300, 0], [5000, 'play'], [5100, 'frames', 5500, 0.033]], ['play_requested@5000', 'first_frame@5100']],
  ['autoplay never confirmed by play: no request', [[0, 'autoplay-load'], [3000, 'frames', 3000, 0]], []],
  ['a freeze of 250 ms or more is a stall, from when the next frame was due', [[0, 'play'], [100, 'frames', 2000, 0], [3000, 'frames', 3100, 1.9]], ['play_requested@0', 'first_frame@100', 'stall_start@2033', 'stall_end@3000']],
  ['a shorter freeze is not', [[0, 'play'], [100, 'frames', 2000, 0], [2230, 'frames', 2500, 1.9]], ['play_requested@0', 'first_frame@100']],
  ['a pause is not a stall', [[0, 'play'], [100, 'frames', 2000, 0], [2010, 'pause'], [5000, 'play'], [5100, 'frames', 5300, 1.9]], ['play_requested@0', 'first_frame@100', 'pause@2010', 'play@5000']],
  ['a seek lasts until frames move again; its freeze is no stall', [[0, 'play'], [100, 'frames', 2000, 0], [2010, 'seek', 20], [2200, 'seeked'], [2600, 'frames', 2700, 20]], ['play_requested@0', 'first_frame@100', 'seek_start@2010', 'seek_end@2600']],
  ['a seek ends a stall', [[0, 'play'], [100, 'frames', 2000, 0], [2500, 'seek', 20], [2600, 'seeked'], [2700, 'frames', 2800, 20]], ['play_requested@0', 'first_frame@100', 'stall_start@2033', 'stall_end@2500', 'seek_start@2500', 'seek_end@2700']],
  ['a player nudge inside a stall is no seek', [[0, 'play'], [100, 'frames', 2000, 0], [2500, 'nudge', 1.95], [3000, 'frames', 3100, 1.95]], ['play_requested@0', 'first_frame@100', 'stall_start@2033', 'stall_end@3000']],
  ['the end is not a stall', [[0, 'play'], [100, 'frames', 1000, 39.75], [1500, 'ended']], ['play_requested@0', 'first_frame@100', 'ended@1500']],
  ['a replay after the end is a new request', [[0, 'play'], [100, 'frames', 300, 39.9], [400, 'ended'], [1000, 'play'], [1100, 'frames', 1300, 0]], ['play_requested@0', 'first_frame@100', 'ended@400', 'play_requested@1000']],
];

for (const [name, steps, expected, before] of cases) {
  test(`playback: ${name}`, () => assert.deepEqual(run(steps, before), expected));
}
