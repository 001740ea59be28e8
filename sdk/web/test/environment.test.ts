// Sampling is per viewer and proportional.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { optedOut, sampled, viewerId } from '../src/environment';

test('sampling: a viewer is always in or always out, and the share follows the rate', () => {
  let inside = 0;
  for (let i = 0; i < 10_000; i++) {
    const viewer = `viewer-${i}`;
    const decision = sampled(0.25, viewer);
    assert.equal(sampled(0.25, viewer), decision);
    if (decision) inside++;
  }
  assert.ok(inside > 2300 && inside < 2700, `${inside} of 10,000 at 25%`);
  assert.equal(sampled(1, 'anyone'), true);
  assert.equal(sampled(0, 'anyone'), false);
});

test('privacy: Do Not Track and Global Privacy Control opt out; a viewer id is kept where it is stored', () => {
  const cases: [string, Partial<Navigator> & { globalPrivacyControl?: boolean }, boolean][] = [
    ['nothing said', {}, false],
    ['Do Not Track on', { doNotTrack: '1' }, true],
    ['Do Not Track off', { doNotTrack: '0' }, false],
    ['Global Privacy Control', { globalPrivacyControl: true }, true],
    ['Global Privacy Control off', { globalPrivacyControl: false }, false],
  ];
  for (const [name, nav, expected] of cases) assert.equal(optedOut(nav), expected, name);

  const stored = new Map<string, string>();
  const storage = {
    getItem: (k: string) => stored.get(k) ?? null,
    setItem: (k: string, v: string) => void stored.set(k, v),
  } as unknown as Storage;
  const first = viewerId(storage);
  assert.ok(first && first.length >= 32);
  assert.equal(viewerId(storage), first, 'the same storage keeps the same id');
  const session = { getItem: () => null, setItem() {} } as unknown as Storage;
  assert.notEqual(viewerId(session), first, 'another storage (the session scope) has its own id');
  assert.equal(viewerId(undefined), undefined, 'no storage, no id');
});
