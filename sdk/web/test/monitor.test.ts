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
