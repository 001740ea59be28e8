// Stock players in CMCD v2 event mode, with no openqoe SDK on the page — hls.js on an HLS ladder,
// dash.js on a DASH ladder, both made by ffmpeg at test time — play in Debian's headless Chromium
// while the origin holds one segment back; the view openqoe builds from each player's own CMCD
// reports must match what the page saw. (Shaka never fires `waiting`; its ground truth needs
// frame-progress detection and comes with the SDK work.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { artifacts, launchChromium, repo, startOpenqoe } from './support.mjs';

const SECONDS = 20;
const STALL_DELAY_MS = 5000;

const VIDEO = (size) => ['-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=30:duration=${SECONDS}`,
  '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`];
const H264 = ['-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0'];

/** A 3-rendition H.264/AAC HLS ladder with 2 s segments (testing notes: Debian's Chromium decodes H.264). */
function makeHlsLadder(dir) {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...VIDEO('1280x720'),
    '-filter_complex', '[0:v]split=3[v1][v2][v3];[v1]scale=1280:720[v1o];[v2]scale=854:480[v2o];[v3]scale=640:360[v3o]',
    '-map', '[v1o]', '-map', '[v2o]', '-map', '[v3o]', '-map', '1:a', '-map', '1:a', '-map', '1:a', ...H264,
    '-b:v:0', '2500k', '-b:v:1', '1200k', '-b:v:2', '600k', '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_filename', 'v%v/seg_%03d.ts',
    '-master_pl_name', 'master.m3u8', '-var_stream_map', 'v:0,a:0 v:1,a:1 v:2,a:2', 'v%v/index.m3u8'], { cwd: dir });
}

/** The same ladder as H.264/AAC fMP4 DASH (dash.js 5.2 plays it in Debian's Chromium). */
function makeDashLadder(dir) {
  execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...VIDEO('1280x720'),
    '-filter_complex', '[0:v]split=3[v1][v2][v3];[v1]scale=1280:720[v1o];[v2]scale=854:480[v2o];[v3]scale=640:360[v3o]',
    '-map', '[v1o]', '-map', '[v2o]', '-map', '[v3o]', '-map', '1:a', ...H264,
    '-b:v:0', '2500k', '-b:v:1', '1200k', '-b:v:2', '600k', '-c:a', 'aac', '-b:a', '96k', '-ac', '2',
    '-f', 'dash', '-seg_duration', '2', '-use_template', '1', '-use_timeline', '0',
    '-adaptation_sets', 'id=0,streams=v id=1,streams=a', 'manifest.mpd'], { cwd: dir });
}

/** Each player: its script from npm, how the page starts it, and which segment the origin holds. */
const PLAYERS = {
  hlsjs: {
    script: 'hls.js/dist/hls.min.js',
    held: /\/seg_005\.ts$/,
    start: `const hls = new Hls({
      maxBufferLength: 4, maxMaxBufferLength: 4,
      cmcd: { version: 2, sessionId: sid, contentId: 'e2e-hlsjs',
              eventTargets: [{ url: collector, events: ['ps', 'e', 'bc', 't'], interval: 5, batchSize: 1 }] },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, () => { mark('play'); video.play(); });
    hls.loadSource('/media/hls/master.m3u8');
    hls.attachMedia(video);`,
  },
  dashjs: {
    script: 'dashjs/dist/modern/umd/dash.all.min.js',
    held: /chunk-stream\d+-00006\.m4s$/,
    start: `const player = dashjs.MediaPlayer().create();
    player.updateSettings({ streaming: {
      buffer: { bufferTimeDefault: 4, bufferTimeAtTopQuality: 4, bufferTimeAtTopQualityLongForm: 4 },
      // dash.js 5.2 sends only e, ts and v to an event target unless its keys are listed.
      cmcd: { enabled: true, version: 2, sid, cid: 'e2e-dashjs',
              eventTargets: [{ enabled: true, url: collector, events: ['ps', 'e', 'bc', 't'], interval: 5, batchSize: 1,
                               enabledKeys: ['e', 'ts', 'v', 'sid', 'cid', 'sn', 'sta', 'br', 'bl', 'mtp', 'pt', 'ec', 'st', 'sf'] }] },
    } });
    // dash.js reports sta=s when it starts loading, so the viewer's request is the initialize call.
    player.on(dashjs.MediaPlayer.events.STREAM_INITIALIZED, () => video.play());
    mark('play');
    player.initialize(video, '/media/dash/manifest.mpd', false);`,
  },
};

const page = (player) => `<!doctype html><meta charset="utf-8"><title>${player} CMCD</title><link rel="icon" href="data:,">
<video id="v" muted playsinline width="640" height="360"></video>
<script src="/player.js"></script>
<script>
  const params = new URLSearchParams(location.search);
  const sid = params.get('sid');
  const collector = params.get('collector');
  const video = document.getElementById('v');
  window.__log = [];
  const mark = (type) => window.__log.push({ type, wall: Date.now(), ct: video.currentTime });
  ['playing', 'waiting', 'seeking', 'ended', 'pause'].forEach((e) => video.addEventListener(e, () => mark(e)));
  ${PLAYERS[player].start}
</script>`;

/** The origin: the page, the player from npm, and the ladders; every rendition's copy of the
 * held segment waits until 5 s after it was first asked for, so the buffer (capped at 4 s) runs dry. */
function startOrigin(player, mediaDir) {
  let heldUntil = null;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://origin');
    const send = (type, body) => { res.writeHead(200, { 'content-type': type }); res.end(body); };
    if (url.pathname === '/page.html') return send('text/html', page(player));
    if (url.pathname === '/player.js') return send('text/javascript', fs.readFileSync(path.join(repo, 'tests/browser/node_modules', PLAYERS[player].script)));
    const file = path.join(mediaDir, path.normalize(url.pathname.replace(/^\/media\//, '')));
    if (!file.startsWith(mediaDir) || !fs.existsSync(file) || !fs.statSync(file).isFile()) { res.writeHead(404); return res.end(); }
    const type = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.mpd': 'application/dash+xml' }[path.extname(file)] ?? 'video/mp4';
    if (PLAYERS[player].held.test(file)) {
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

const mediaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ladders-'));
fs.mkdirSync(path.join(mediaDir, 'hls'));
fs.mkdirSync(path.join(mediaDir, 'dash'));
makeHlsLadder(path.join(mediaDir, 'hls'));
makeDashLadder(path.join(mediaDir, 'dash'));
process.on('exit', () => fs.rmSync(mediaDir, { recursive: true, force: true }));

for (const player of Object.keys(PLAYERS)) {
  test(`${player} in CMCD v2 event mode becomes an openqoe view matching the page`, { timeout: 180000 }, async () => {
    fs.mkdirSync(artifacts, { recursive: true });
    const openqoe = startOpenqoe('serve', 'openqoe listening:');
    const origin = await startOrigin(player, mediaDir);
    let browser;
    try {
      const collector = `${await openqoe.url}/v1/cmcd?key=demo`;
      const sid = `e2e-${player}-${Date.now()}`;
      const launched = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
      browser = launched.context;
      const { page: tab, problems } = launched;
      await tab.goto(`${origin.url}/page.html?sid=${sid}&collector=${encodeURIComponent(collector)}`);
      await tab.waitForFunction(() => window.__log.some((e) => e.type === 'ended'), null, { timeout: 120000 });
      await tab.waitForTimeout(2000); // the last reports
      const truth = groundTruth(await tab.evaluate(() => window.__log));

      const { views } = await (await fetch(`${await openqoe.url}/v1/views?filter=session_id:${sid}&from=0`)).json();
      assert.equal(views.length, 1, 'one view for the player session');
      const m = views[0].metrics;
      const { events } = await (await fetch(`${await openqoe.url}/v1/views/${views[0].id}/events`)).json();
      fs.writeFileSync(path.join(artifacts, `cmcd-${player}-events.json`), JSON.stringify({ truth, metrics: m, events }, null, 1));
      assert.ok(truth.stalls.length >= 1 && truth.stalls[0] >= 1000, `the origin forced a stall of a second or more (${JSON.stringify(truth)})`);
      assert.ok(Math.abs(m.video_startup_time_ms - truth.startupMs) <= 250, `startup ${m.video_startup_time_ms} ms vs page ${truth.startupMs} ms`);
      assert.equal(m.rebuffer_count, truth.stalls.length, `rebuffer count vs page ${JSON.stringify(truth.stalls)}`);
      const pageStallMs = truth.stalls.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(m.rebuffer_duration_ms - pageStallMs) <= 500, `rebuffer ${m.rebuffer_duration_ms} ms vs page ${pageStallMs} ms`);
      console.log(`${player} CMCD: startup ${m.video_startup_time_ms} ms (page ${truth.startupMs}), rebuffers ${m.rebuffer_count} / ${m.rebuffer_duration_ms} ms (page ${truth.stalls.length} / ${pageStallMs} ms)`);
      assert.deepEqual(problems, [], 'no console errors');
    } finally {
      await browser?.close();
      origin.close();
      openqoe.stop();
    }
  });
}
