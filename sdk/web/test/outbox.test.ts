// Delivery: order, acknowledgement, backoff, persistence across pages, bounds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoff, Delivery, Outbox, OutboxLimits } from '../src/outbox';
import type { WireEvent, WireView } from '../src/wire';

/** A page's world on a hand-driven clock: timers, storage, and a collector the test answers. */
class World {
  clock = 0;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  store = new Map<string, string>();
  requests: Array<{ body: any; answer: (status: number, retryAfter?: string) => void }> = [];
  private nextId = 1;

  delivery(): Delivery {
    const store = this.store;
    return {
      fetch: (_url, init) =>
        new Promise((resolve, reject) => {
          this.requests.push({
            body: JSON.parse(init.body as string),
            answer: (status, retryAfter) => (status === 0 ? reject(new TypeError('refused')) : resolve({ status, headers: { get: (n: string) => (n === 'retry-after' ? retryAfter ?? null : null) } })),
          });
        }),
      storage: {
        getItem: (k) => store.get(k) ?? null,
        setItem: (k, v) => void store.set(k, v),
        removeItem: (k) => void store.delete(k),
        key: (i) => [...store.keys()][i] ?? null,
        get length() {
          return store.size;
        },
      },
      now: () => this.clock,
      random: () => 1,
      setTimeout: (fn, ms) => {
        const id = this.nextId++;
        this.timers.push({ at: this.clock + ms, fn, id });
        return id;
      },
      clearTimeout: (id) => {
        this.timers = this.timers.filter((t) => t.id !== id);
      },
    };
  }

  /** Runs time forward to `to`, firing due timers in order. */
  async advance(to: number): Promise<void> {
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > to) break;
      this.timers.shift();
      this.clock = next.at;
      next.fn();
      await settle();
    }
    this.clock = to;
  }

  /** Answers the oldest open request. */
  async answer(status: number, retryAfter?: string): Promise<any> {
    const request = this.requests.shift();
    assert.ok(request, 'a request was made');
    request.answer(status, retryAfter);
    await settle();
    return request.body;
  }
}

const settle = () => new Promise((r) => setImmediate(r));
const LIMITS: OutboxLimits = { maxBatchEvents: 50, flushMs: 10_000, maxQueuedEvents: 100, maxBackoffMs: 60_000 };
const view: WireView = { id: 'v1', props: { cdn: 'a' } };
let seq = 0;
const event = (type = 'heartbeat'): WireEvent => ({ seq: seq++, ts: 0, type });

test('outbox: batches leave in order, one at a time, and stay until acknowledged', async () => {
  const world = new World();
  const outbox = new Outbox('https://c/v1/events?key=k', 'k', 'page1', world.delivery(), LIMITS);
  seq = 0;
  outbox.add(view, event('play_requested'), true);
  outbox.add(view, event('first_frame'), true);
  await world.advance(0);
  assert.equal(world.requests.length, 1, 'one request in flight');
  assert.deepEqual((await world.answer(503)).events.map((e: WireEvent) => e.seq), [0]);
  await world.advance(400);
  assert.equal(world.requests.length, 0, 'no retry before the backoff');
  await world.advance(1000);
  assert.deepEqual((await world.answer(202)).events.map((e: WireEvent) => e.seq), [0], 'the failed batch first');
  assert.deepEqual((await world.answer(202)).events.map((e: WireEvent) => e.seq), [1]);
  assert.equal(outbox.pending(), 0);
  assert.equal(world.store.size, 0, 'nothing left in storage');
});

test('outbox: an open batch goes after 10 s, however many events keep arriving', async () => {
  const world = new World();
  const outbox = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  for (let t = 0; t < 10_000; t += 2000) {
    await world.advance(t);
    outbox.add(view, event(), false);
  }
  await world.advance(9999);
  assert.equal(world.requests.length, 0);
  await world.advance(10_000);
  assert.equal((await world.answer(202)).events.length, 5);
});

test('outbox: Retry-After holds the next try back; a refused connection backs off too', async () => {
  const world = new World();
  const outbox = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  outbox.add(view, event(), true);
  await world.advance(0);
  await world.answer(429, '20');
  await world.advance(19_999);
  assert.equal(world.requests.length, 0, 'nothing before Retry-After');
  await world.advance(20_000);
  await world.answer(0);
  await world.advance(21_999);
  assert.equal(world.requests.length, 0, 'second failure: 2 s');
  await world.advance(22_000);
  await world.answer(202);
});

test('outbox: a batch the collector rejects is dropped and counted on the next event', async () => {
  const world = new World();
  const outbox = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  outbox.add(view, event(), true);
  await world.advance(0);
  await world.answer(400);
  outbox.add(view, event(), true);
  await world.advance(0);
  assert.equal((await world.answer(202)).events[0].queue_dropped, 1);
});

test('outbox: props changing start a new batch', async () => {
  const world = new World();
  const outbox = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  outbox.add(view, event(), false);
  outbox.add({ ...view, props: { cdn: 'b' } }, event(), false);
  outbox.flush();
  await world.advance(0);
  assert.equal((await world.answer(202)).view.props.cdn, 'a');
  assert.equal((await world.answer(202)).view.props.cdn, 'b');
});

test('outbox: the next page sends what a closed page left; a live page keeps its own', async () => {
  const world = new World();
  const first = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  first.add(view, event(), false);
  const live = new Outbox('u', 'k', 'page2', world.delivery(), LIMITS);
  assert.equal(live.pending(), 0, 'a page still open is not adopted');
  first.unload();
  world.requests.length = 0; // the unload's keepalive request (no sendBeacon here)
  const next = new Outbox('u', 'k', 'page3', world.delivery(), LIMITS);
  assert.equal(next.pending(), 1, 'adopted');
  await world.advance(0);
  assert.equal((await world.answer(202)).view.id, 'v1');
  const other = new Outbox('other-collector', 'k', 'page4', world.delivery(), LIMITS);
  assert.equal(other.pending(), 0, 'another collector’s queue stays');
});

test('outbox: a page that died without pagehide is adopted after 30 s', async () => {
  const world = new World();
  const dead = new Outbox('u', 'k', 'page1', world.delivery(), LIMITS);
  dead.add(view, event(), false);
  world.clock = 29_000;
  assert.equal(new Outbox('u', 'k', 'page2', world.delivery(), LIMITS).pending(), 0);
  world.clock = 31_000;
  assert.equal(new Outbox('u', 'k', 'page3', world.delivery(), LIMITS).pending(), 1);
});

test('outbox: over its bound, heartbeats go first, then the oldest batches', async () => {
  const world = new World();
  const outbox = new Outbox('u', 'k', 'page1', world.delivery(), { ...LIMITS, maxQueuedEvents: 10, maxBatchEvents: 4 });
  seq = 0;
  for (let i = 0; i < 8; i++) outbox.add(view, event(i % 2 ? 'heartbeat' : 'stall_start'), false);
  for (let i = 0; i < 4; i++) outbox.add(view, event('pause'), false);
  assert.equal(outbox.pending(), 10);
  outbox.flush();
  await world.advance(0);
  const sent = (await world.answer(202)).events.map((e: WireEvent) => e.type);
  assert.deepEqual(sent, ['stall_start', 'stall_start'], 'the oldest batch lost its heartbeats first');
  assert.equal((await world.answer(202)).events.length, 4, 'the next batch whole');
});

test('backoff: exponential from 1 s, jittered, capped, never sooner than Retry-After', () => {
  const cases: Array<[number, string | null, number, number]> = [
    [1, null, 1, 1000],
    [1, null, 0, 500],
    [3, null, 1, 4000],
    [10, null, 1, 60_000],
    [1, '30', 1, 30_000],
    [1, 'Thu, 01 Jan 1970 00:00:10 GMT', 1, 10_000],
    [1, 'nonsense', 1, 1000],
    [6, '1', 1, 32_000],
  ];
  for (const [failures, retryAfter, random, expected] of cases) {
    assert.equal(backoff(failures, retryAfter, 0, () => random, 60_000), expected, `${failures} failures, Retry-After ${retryAfter}`);
  }
});
