// Renditions follow the picture: a player's selection is reported when frames of it are shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RenditionTracker } from '../src/rendition';
import type { Rendition } from '../src/wire';

const r = (kbps: number, width: number, height: number): Rendition => ({ bitrate_bps: kbps * 1000, width, height });
const HIGH = r(2500, 1280, 720);
const LOW = r(600, 640, 360);
const LOW2 = r(800, 640, 360);

test('rendition: reported when its picture appears, not when selected', () => {
  const seen: number[] = [];
  const tracker = new RenditionTracker((x) => seen.push(x.bitrate_bps));
  tracker.select(HIGH);
  assert.deepEqual(seen, []);
  tracker.pictureSize(1280, 720);
  tracker.select(LOW);
  assert.deepEqual(seen, [2_500_000], 'LOW selected, still showing HIGH');
  tracker.pictureSize(640, 360);
  assert.deepEqual(seen, [2_500_000, 600_000]);
});

test('rendition: a selection abandoned before it is shown is never reported', () => {
  const seen: number[] = [];
  const tracker = new RenditionTracker((x) => seen.push(x.bitrate_bps));
  tracker.select(HIGH);
  tracker.pictureSize(1280, 720);
  tracker.select(r(1200, 854, 480));
  tracker.select(HIGH);
  tracker.pictureSize(1280, 720);
  assert.deepEqual(seen, [2_500_000]);
});

test('rendition: a switch between renditions of one size is reported at once', () => {
  const seen: number[] = [];
  const tracker = new RenditionTracker((x) => seen.push(x.bitrate_bps));
  tracker.select(LOW);
  tracker.pictureSize(640, 360);
  tracker.select(LOW2);
  assert.deepEqual(seen, [600_000, 800_000]);
});

test('rendition: decoded sizes that match no manifest size take the latest selection', () => {
  const seen: number[] = [];
  const tracker = new RenditionTracker((x) => seen.push(x.bitrate_bps));
  tracker.select(r(5000, 1920, 1080));
  tracker.pictureSize(1920, 1088);
  assert.deepEqual(seen, [5_000_000]);
});
