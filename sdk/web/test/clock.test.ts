// Dating an element event from when it was queued, not from when its handler ran.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { monotonic, queuedAt } from '../src/clock';

test('an event is dated from its creation, however late its handler runs', () => {
  const event = new Event('play');
  const created = event.timeStamp;
  const until = monotonic() + 30;
  while (monotonic() < until);
  assert.equal(queuedAt(event), created);
  assert.ok(monotonic() - queuedAt(event) >= 30);
});

test('a timeStamp off the performance.now() scale falls back to the handler time', () => {
  for (const stamp of [Date.now(), 0, Number.NaN]) {
    const event = new Event('play');
    Object.defineProperty(event, 'timeStamp', { value: stamp });
    const before = monotonic();
    const at = queuedAt(event);
    assert.ok(at >= before && at <= monotonic(), `timeStamp ${stamp} gave ${at}`);
  }
});
