// hls.js in CMCD v2 event mode, with no openqoe SDK on the page, plays a local ffmpeg-made HLS
// ladder in Debian's headless Chromium while the origin stalls one segment; the view openqoe
// builds from the player's own CMCD reports must match what the page saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { artifacts, launchChromium, repo, startOpenqoe } from './support.mjs';

const SECONDS = 20;
const STALLED_SEGMENT = 'seg_005.ts';
const STALL_DELAY_MS = 5000;

/** A 3-rendition H.264/AAC HLS ladder with 2 s segments (testing notes: Debian's Chromium decodes H.264). */
function makeLadder(dir) {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    '-filter_complex', '[0:v]split=3[v1][v2][v3];[v1]scale=1280:720[v1o];[v2]scale=854:480[v2o];[v3]scale=640:360[v3o]',
    '-map', '[v1o]', '-map', '[v2o]', '-map', '[v3o]', '-map', '1:a', '-map', '1:a', '-map', '1:a',
    '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0',
    '-b:v:0', '2500k', '-b:v:1', '1200k', '-b:v:2', '600k', '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_filename', 'v%v/seg_%03d.ts',
    '-master_pl_name', 'master.m3u8', '-var_stream_map', 'v:0,a:0 v:1,a:1 v:2,a:2', 'v%v/index.m3u8'], { cwd: dir });
}

const PAGE = `<!doctype html><meta charset="utf-8"><title>hls.js CMCD</title><link rel="icon" href="data:,">
<video id="v" muted playsinline width="640" height="360"></video>
<script src="/hls.min.js"></script>
<script>
  const params = new URLSearchParams(location.search);
  const video = document.getElementById('v');
  window.__log = [];
  const mark = (type) => window.__log.push({ type, wall: Date.now(), ct: video.currentTime });
  ['playing', 'waiting', 'seeking', 'ended', 'pause'].forEach((e) => video.addEventListener(e, () => mark(e)));
  const hls = new Hls({
    maxBufferLength: 4, maxMaxBufferLength: 4,
    cmcd: { version: 2, sessionId: params.get('sid'), contentId: 'e2e-hlsjs',
            eventTargets: [{ url: params.get('collector'), events: ['ps', 'e', 'bc', 't'], interval: 5, batchSize: 1 }] },
  });
  hls.on(Hls.Events.MANIFEST_PARSED, () => { mark('play'); video.play(); });
  hls.loadSource('/hls/master.m3u8');
  hls.attachMedia(video);
</script>`;

/** The origin: the page, hls.js from npm, and the ladder; every rendition's copy of one segment
 * is held until 5 s after it was first asked for, so the buffer (capped at 4 s) runs dry. */
function startOrigin(mediaDir) {
  let heldUntil = null;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://origin');
    const send = (type, body) => { res.writeHead(200, { 'content-type': type }); res.end(body); };
    if (url.pathname === '/page.html') return send('text/html', PAGE);
    if (url.pathname === '/hls.min.js') return send('text/javascript', fs.readFileSync(path.join(repo, 'tests/browser/node_modules/hls.js/dist/hls.min.js')));
    const file = path.join(mediaDir, path.normalize(url.pathname.replace(/^\/hls\//, '')));
    if (!file.startsWith(mediaDir) || !fs.existsSync(file)) { res.writeHead(404); return res.end(); }
    const type = file.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t';
    if (file.endsWith(STALLED_SEGMENT)) {
      heldUntil ??= Date.now() + STALL_DELAY_MS;
      return setTimeout(() => send(type, fs.readFileSync(file)), Math.max(0, heldUntil - Date.now()));
    }
    send(type, fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() })));
}

/** What the page saw: startup (play → first playing) and each rebuffer (waiting → playing). */
function groundTruth(log) {
  const play = log.find((e) => e.type === 'play');
  const firstPlaying = log.find((e) => e.type === 'playing');
  const stalls = [];
  let waitingSince = null;
  for (const e of log.slice(log.indexOf(firstPlaying) + 1)) {
    if (e.type === 'waiting' && waitingSince === null) waitingSince = e.wall;
    if (e.type === 'playing' && waitingSince !== null) { stalls.push(e.wall - waitingSince); waitingSince = null; }
  }
  return { startupMs: firstPlaying.wall - play.wall, stalls };
}

test('hls.js CMCD v2 event mode becomes an openqoe view matching the page', { timeout: 180000 }, async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ladder-'));
  makeLadder(mediaDir);
  const openqoe = startOpenqoe('serve', 'openqoe listening:');
  const origin = await startOrigin(mediaDir);
  let browser;
  try {
    const collector = `${await openqoe.url}/v1/cmcd?key=demo`;
    const sid = `e2e-${Date.now()}`;
    const launched = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    browser = launched.context;
    const { page, problems } = launched;
    await page.goto(`${origin.url}/page.html?sid=${sid}&collector=${encodeURIComponent(collector)}`);
    await page.waitForFunction(() => window.__log.some((e) => e.type === 'ended'), null, { timeout: 120000 });
    await page.waitForTimeout(2000); // the last reports
    const truth = groundTruth(await page.evaluate(() => window.__log));

    const { views } = await (await fetch(`${await openqoe.url}/v1/views?filter=session_id:${sid}&from=0`)).json();
    assert.equal(views.length, 1, 'one view for the player session');
    const m = views[0].metrics;
    const { events } = await (await fetch(`${await openqoe.url}/v1/views/${views[0].id}/events`)).json();
    fs.writeFileSync(path.join(artifacts, 'cmcd-hlsjs-events.json'), JSON.stringify({ truth, metrics: m, events }, null, 1));
    assert.ok(truth.stalls.length >= 1 && truth.stalls[0] >= 1000, `the origin forced a stall of a second or more (${JSON.stringify(truth)})`);
    assert.ok(Math.abs(m.video_startup_time_ms - truth.startupMs) <= 250, `startup ${m.video_startup_time_ms} ms vs page ${truth.startupMs} ms`);
    assert.equal(m.rebuffer_count, truth.stalls.length, `rebuffer count vs page ${JSON.stringify(truth.stalls)}`);
    const pageStallMs = truth.stalls.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(m.rebuffer_duration_ms - pageStallMs) <= 500, `rebuffer ${m.rebuffer_duration_ms} ms vs page ${pageStallMs} ms`);
    console.log(`hls.js CMCD: startup ${m.video_startup_time_ms} ms (page ${truth.startupMs}), rebuffers ${m.rebuffer_count} / ${m.rebuffer_duration_ms} ms (page ${truth.stalls.length} / ${pageStallMs} ms)`);
    assert.deepEqual(problems, [], 'no console errors');
  } finally {
    await browser?.close();
    origin.close();
    openqoe.stop();
    fs.rmSync(mediaDir, { recursive: true, force: true });
  }
});
