// Sampling is per viewer and proportional.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sampled } from '../src/environment';

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
