// Stock players in CMCD v2 event mode — hls.js on an HLS ladder, dash.js on a DASH ladder, both
// made by ffmpeg at test time — play in Debian's headless Chromium while the origin stops sending
// for 7 s (a stall). The same page also runs the openqoe web SDK, so one playback gives two views:
// the one openqoe built from the player's own CMCD reports, with no SDK involved, must agree with
// the SDK's (whose numbers tests/browser/sdk-players.test.mjs holds to the presented frames).
// Shaka 5.2.12 is left out: its CMCD reporter never sends `sta` nor `ps` (docs/cmcd.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, launchChromium, repo, signIn, startOpenqoe } from './support.mjs';
import { CMSD_SERVER, media, startOrigin } from './media.mjs';

const SECONDS = 20;
// The agreement asserted between the CMCD view and the SDK view of the same playback: CMCD minus
// SDK. dash.js plays its separate audio on over a frozen picture until the audio runs dry too
// (testing notes): the SDK sees the freeze in the frames, while dash.js's CMCD state changes only at
// the element's `waiting`, up to a segment (2 s) later — so dash.js's CMCD under-reports a stall.
const TOLERANCE = { startupMs: 250, rebufferMs: { hlsjs: [-500, 500], dashjs: [-2500, 500] } };

const EVENTS = ['ps', 'e', 'bc', 't', 'rr'];
const PLAYERS = {
  hlsjs: {
    script: 'hls.js/dist/hls.min.js',
    start: `const hls = new Hls({
      maxBufferLength: 4, maxMaxBufferLength: 4,
      cmcd: { version: 2, sessionId: sid, contentId: 'e2e-hlsjs',
              eventTargets: [{ url: collector, events: ${JSON.stringify(EVENTS)}, interval: 5, batchSize: 1 }] },
    });
    window.__handle = openqoe.monitor(openqoe.hlsjs(hls), options);
    hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
    hls.loadSource('/media/hls/master.m3u8');
    hls.attachMedia(video);`,
  },
  dashjs: {
    script: 'dashjs/dist/modern/umd/dash.all.min.js',
    start: `const player = dashjs.MediaPlayer().create();
    player.updateSettings({ streaming: {
      buffer: { bufferTimeDefault: 4, bufferTimeAtTopQuality: 4, bufferTimeAtTopQualityLongForm: 4 },
      // dash.js 5.2 sends only e, ts and v to an event target unless its keys are listed.
      cmcd: { enabled: true, version: 2, sid, cid: 'e2e-dashjs',
              eventTargets: [{ enabled: true, url: collector, events: ${JSON.stringify(EVENTS)}, interval: 5, batchSize: 1,
                               enabledKeys: ['e', 'ts', 'v', 'sid', 'cid', 'sn', 'sta', 'br', 'bl', 'mtp', 'pt', 'ec', 'st', 'sf',
                                             'url', 'rc', 'ttfb', 'ttlb', 'cmsdd', 'cmsds'] }] },
    } });
    player.initialize(video, '/media/dash/manifest.mpd', false);
    window.__handle = openqoe.monitor(openqoe.dashjs(player), options);
    // dash.js reports sta=s when it starts loading: the viewer's request is the initialize call.
    video.play().catch(() => {});`,
  },
};

const page = (player, openqoe) => (url) => `<!doctype html><meta charset="utf-8"><title>${player} CMCD</title><link rel="icon" href="data:,">
<video id="v" muted playsinline width="640" height="360"></video>
<script src="/player.js"></script>
<script src="${openqoe}/sdk/openqoe.js"></script>
<script>
  const sid = ${JSON.stringify(url.searchParams.get('sid'))};
  const collector = '${openqoe}/v1/cmcd?key=demo';
  const options = { collector: '${openqoe}', key: 'demo', props: { content_id: 'e2e-${player}' } };
  const video = document.getElementById('v');
  video.addEventListener('timeupdate', () => { if (video.currentTime >= 6 && !window.__held) { window.__held = true; fetch('/control/hold?ms=7000'); } });
  video.addEventListener('ended', () => { window.__sdkView = window.__handle.viewId; window.__handle.end(); window.__ended = true; });
  ${PLAYERS[player].start}
</script>`;

const mediaDir = media(SECONDS);

for (const player of Object.keys(PLAYERS)) {
  test(`${player} in CMCD v2 event mode, no SDK: its view agrees with the SDK's`, { timeout: 180000 }, async () => {
    const openqoe = startOpenqoe('serve', 'openqoe listening:');
    const url = await openqoe.url;
    const origin = await startOrigin(mediaDir, {
      '/page.html': page(player, url),
      '/player.js': fs.readFileSync(path.join(repo, 'tests/browser/node_modules', PLAYERS[player].script)),
    });
    let browser;
    try {
      const sid = `e2e-${player}-${Date.now()}`;
      const launched = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
      browser = launched.context;
      await launched.page.goto(`${origin.url}/page.html?sid=${sid}`);
      await launched.page.waitForFunction(() => window.__ended, null, { timeout: 120000, polling: 500 });
      await launched.page.waitForTimeout(2000); // the last reports
      const sdkViewId = await launched.page.evaluate(() => window.__sdkView);

      const api = async (p) => (await openqoe.api(p)).json();
      const { views } = await api(`/v1/views?filter=session_id:${sid}&from=0`);
      assert.equal(views.length, 1, 'one CMCD view for the player session');
      const cmcd = views[0];
      const sdk = await api(`/v1/views/${sdkViewId}`);
      const { events } = await api(`/v1/views/${cmcd.id}/events`);
      fs.mkdirSync(artifacts, { recursive: true });
      fs.writeFileSync(path.join(artifacts, `cmcd-${player}.json`), JSON.stringify({ cmcd, sdk, events }, null, 1));
      const [c, s] = [cmcd.metrics, sdk.metrics];
      console.log(`${player} CMCD vs SDK: startup ${c.video_startup_time_ms} vs ${s.video_startup_time_ms} ms, rebuffers ${c.rebuffer_count} / ${c.rebuffer_duration_ms} ms vs ${s.rebuffer_count} / ${s.rebuffer_duration_ms} ms`);
      assert.equal(cmcd.props.source, 'cmcd');
      assert.ok(s.rebuffer_count >= 1 && s.rebuffer_duration_ms >= 1000, `the origin forced a stall of a second or more (SDK: ${s.rebuffer_count} / ${s.rebuffer_duration_ms} ms)`);
      assert.ok(Math.abs(c.video_startup_time_ms - s.video_startup_time_ms) <= TOLERANCE.startupMs, 'startup agrees');
      assert.equal(c.rebuffer_count, s.rebuffer_count, 'rebuffer count agrees');
      const [below, above] = TOLERANCE.rebufferMs[player];
      const gap = c.rebuffer_duration_ms - s.rebuffer_duration_ms;
      assert.ok(gap >= below && gap <= above, `rebuffer time agrees: CMCD − SDK = ${gap} ms, allowed [${below}, ${above}]`);
      // e=rr response records: per-host request statistics, with the origin's CMSD where the player copies it.
      const host = new URL(origin.url).host;
      const edge = cmcd.requests.find((r) => r.host === host);
      console.log(`${player} CMCD requests: ${JSON.stringify(cmcd.requests)}`);
      assert.ok(edge && edge.requests >= 10 && edge.ttlb_ms, `request statistics for ${host}`);
      // dash.js 5.2 sends `ttfb` as an epoch time, which openqoe refuses as a duration.
      if (player === 'hlsjs') assert.ok(edge.ttfb_ms, 'hls.js reports time to first byte');
      if (player === 'dashjs') assert.equal(edge.cmsd_dynamic?.[0]?.server, CMSD_SERVER, 'dash.js copies CMSD-Dynamic into cmsdd');
      // The dashboard's view page lists them (signed in as an operator would be).
      await signIn(launched.context, url, await openqoe.headers);
      await launched.page.goto(`${url}/#/views/${cmcd.id}`);
      const hostCell = await launched.page.waitForSelector('h2:text("Requests per host (CMCD)") + table tbody td');
      assert.equal(await hostCell.textContent(), host);
      assert.deepEqual(launched.problems, [], 'no console errors');
    } finally {
      await browser?.close();
      origin.close();
      openqoe.stop();
    }
  });
}
