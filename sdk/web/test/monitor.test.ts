// Ending a view from the app's own listeners (issue 19): whatever the order of the listeners, the
// error that ended playback is in the view it ended. One row per rule, on a player whose events
// follow DOM rules (a listener removed during a dispatch is skipped, as on media elements).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Adapter } from '../src/adapter';
import { monitor, type MonitorHandle } from '../src/monitor';

/** A player that raises errors as DOM events. */
class ScriptedPlayer extends EventTarget {
  fail(code: string, fatal: boolean): void {
    this.dispatchEvent(new CustomEvent('error', { detail: { code, fatal } }));
  }
}

const adapterOf = (player: ScriptedPlayer): Adapter => ({
  attach(report) {
    const onError = (e: Event) => {
      const { code, fatal } = (e as CustomEvent).detail;
      report.error(code, undefined, fatal);
    };
    player.addEventListener('error', onError);
    return () => player.removeEventListener('error', onError);
  },
});

/** Events the collector received, by view id, as `type` or `type(code)`. */
async function received(scenario: (player: ScriptedPlayer, handle: () => MonitorHandle) => void): Promise<Map<string, string[]>> {
  const views = new Map<string, string[]>();
  const original = globalThis.fetch;
  globalThis.fetch = (async (_url: string, init: RequestInit) => {
    const batch = JSON.parse(init.body as string);
    const events = views.get(batch.view.id) ?? [];
    for (const e of batch.events) events.push(e.type === 'error' ? `error(${e.code})` : e.type);
    views.set(batch.view.id, events);
    return { status: 202, headers: { get: () => null } };
  }) as typeof fetch;
  try {
    const player = new ScriptedPlayer();
    let handle: MonitorHandle | null = null;
    scenario(player, () => handle!);
    handle = monitor(adapterOf(player), { collector: 'http://collector.test', key: 'demo', viewerId: false });
    await new Promise((r) => setTimeout(r, 20));
    player.fail('fragLoadError', true);
    // Every batch is urgent here (fatal error, view end) and goes in order, one at a time.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
    return views;
  } finally {
    globalThis.fetch = original;
  }
}

const STARTED = ['player_init', 'player_ready'];

const cases: Array<[string, (player: ScriptedPlayer, handle: () => MonitorHandle) => void, string[][]]> = [
  ['the app ends the view in an error listener registered before monitor()', (player, handle) => player.addEventListener('error', () => handle().end()), [[...STARTED, 'error(fragLoadError)', 'view_end']]],
  ['the app destroys the monitor in that listener', (player, handle) => player.addEventListener('error', () => handle().destroy()), [[...STARTED, 'error(fragLoadError)', 'view_end']]],
  ['the app ends and destroys in that listener', (player, handle) => player.addEventListener('error', () => (handle().end(), handle().destroy())), [[...STARTED, 'error(fragLoadError)', 'view_end']]],
  ['the app starts a new view in that listener: the error stays with the view it ended', (player, handle) => player.addEventListener('error', () => handle().newView({ content_id: 'next' })), [[...STARTED, 'error(fragLoadError)', 'view_end'], []]],
  ['no listener of the app: the error is in the view, which goes on', () => undefined, [[...STARTED, 'error(fragLoadError)']]],
];

for (const [name, scenario, expected] of cases) {
  test(`monitor: ${name}`, async () => {
    const views = await received(scenario);
    assert.deepEqual([...views.values()], expected.filter((events) => events.length > 0));
  });
}

test('monitor: an error after the task that ended the view is dropped', async () => {
  const views = await received((player, handle) => {
    player.addEventListener('error', () => {
      handle().end();
      setTimeout(() => player.fail('late', true), 0);
    }, { once: true });
  });
  assert.deepEqual([...views.values()], [[...STARTED, 'error(fragLoadError)', 'view_end']]);
});

test('monitor: a fatal error during an ad break ended from the app\'s listener is in the view', async () => {
  const views = await received((player, handle) => {
    player.addEventListener('error', () => handle().end());
    setTimeout(() => handle().adBreakStart(), 5);
  });
  assert.deepEqual([...views.values()], [[...STARTED, 'ad_break_start', 'error(fragLoadError)', 'view_end']]);
});

/** Just enough of a playing <video> for the detectors: events, state and presented frames. */
class ScriptedVideo extends EventTarget {
  paused = true;
  ended = false;
  seeking = false;
  autoplay = false;
  currentTime = 0;
  duration = 40;
  videoWidth = 0;
  videoHeight = 0;
  clientWidth = 0;
  buffered = { length: 0 };
  private frameCallback: ((now: number, meta: { mediaTime: number }) => void) | null = null;
  requestVideoFrameCallback(cb: (now: number, meta: { mediaTime: number }) => void): number {
    this.frameCallback = cb;
    return 1;
  }
  cancelVideoFrameCallback(): void {
    this.frameCallback = null;
  }
  play(): void {
    this.paused = false;
    this.dispatchEvent(new Event('play'));
  }
  /** Presents frames at 30 fps for `ms` of real time. */
  async frames(ms: number): Promise<void> {
    for (const until = performance.now() + ms; performance.now() < until; ) {
      this.currentTime += 1 / 30;
      const cb = this.frameCallback;
      this.frameCallback = null;
      cb?.(performance.now(), { mediaTime: this.currentTime });
      await sleep(33);
    }
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Monitors a scripted element through `scenario`; returns each view's event types, in order. */
async function watched(scenario: (video: ScriptedVideo, handle: MonitorHandle, answer: { hold: boolean }) => Promise<void>): Promise<string[][]> {
  const views = new Map<string, string[]>();
  const answer = { hold: false };
  const original = globalThis.fetch;
  globalThis.fetch = (async (_url: string, init: RequestInit) => {
    while (answer.hold) await sleep(5);
    const batch = JSON.parse(init.body as string);
    const events = views.get(batch.view.id) ?? [];
    events.push(...batch.events.map((e: { type: string }) => e.type));
    views.set(batch.view.id, events);
    return { status: 202, headers: { get: () => null } };
  }) as typeof fetch;
  try {
    const video = new ScriptedVideo();
    const adapter: Adapter = { attach: (report) => (report.media(video as unknown as HTMLVideoElement), () => undefined) };
    const handle = monitor(adapter, { collector: 'http://collector.test', key: 'demo', viewerId: false });
    await scenario(video, handle, answer);
    for (let i = 0; i < 30; i++) await sleep(10);
    // Heartbeats and the order of delivery are other rows' business.
    return [...views.values()].map((events) => events.filter((type) => type !== 'heartbeat'));
  } finally {
    globalThis.fetch = original;
  }
}

const PLAYED = [...STARTED, 'play_requested', 'first_frame'];

test('monitor: newView() during a stall ends the stall in the view it ends; the next view starts when frames move', async () => {
  const views = await watched(async (video, handle) => {
    video.play();
    await video.frames(200);
    await sleep(500);
    handle.newView({ content_id: 'next' });
    await video.frames(100);
    handle.end();
  });
  assert.deepEqual(views, [[...PLAYED, 'stall_start', 'stall_end', 'view_end'], ['play_requested', 'first_frame', 'view_end']]);
});

test('monitor: end() during a seek leaves the seek open (the server closes it at the view\'s end)', async () => {
  const views = await watched(async (video, handle) => {
    video.play();
    await video.frames(200);
    video.seeking = true;
    video.currentTime = 20;
    video.dispatchEvent(new Event('seeking'));
    handle.end();
  });
  assert.deepEqual(views, [[...PLAYED, 'seek_start', 'view_end']]);
});

test('monitor: destroy() with a batch in flight still delivers it and the view\'s end', async () => {
  const views = await watched(async (video, handle, answer) => {
    video.play();
    answer.hold = true;
    await video.frames(100);
    handle.destroy();
    await sleep(50);
    answer.hold = false;
  });
  assert.deepEqual(views, [[...PLAYED, 'view_end']]);
});
