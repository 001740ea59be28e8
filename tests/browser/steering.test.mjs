// QoE-driven content steering end to end (issue 7 item 5). Two loopback origins, cdn-a and cdn-b,
// serve the same ffmpeg-made 90 s ladder as HLS (TS) and DASH (fMP4). Six players in one headless
// Chromium page (an iframe each) play it, each with the openqoe web SDK, whose views are the
// server's evidence:
// - steered (country=ON): hls.js and dash.js start on cdn-a and poll openqoe's steering server;
// - control (country=OFF): the same, but an operator override pins ["cdn-a", "cdn-b"] — the
//   static priority a CDN switcher without QoE gives; the players' own error failover stays on;
// - reference (country=ON): hls.js and dash.js playing from cdn-b alone, without steering — the
//   traffic an operator's split already sends to cdn-b, so the server has cdn-b's QoE to compare
//   with (a pathway nobody plays from has no health, and nothing is demoted in favour of it).
// After 20 s of healthy playback cdn-a degrades for 60 s: each response is paced under the lowest
// rung's bitrate and every 3rd segment request answers 503. Then the server must have demoted
// cdn-a for the steered viewers with a reason, each steered player must fetch its segments from
// cdn-b within a bound (the origins record every request, tagged by the page it came from), the
// control players must have stayed on cdn-a, and openqoe's own query API must show the steered
// group rebuffering less than the control group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { artifacts, launchChromium, repo, startOpenqoe } from './support.mjs';
import { media } from './media.mjs';

const SECONDS = 90;
const HEALTHY_MS = 20000;
const DEGRADED_MS = 60000;
// cdn-a degraded: each response paced at 40 KB/s (320 kbit/s), under the rendition's bitrate
// (~770 kbit/s with its audio), so a player there must stall; and every 3rd segment request of
// each player answers 503 (its retry gets through, so its own failover need not fire).
const DEGRADED_PACE = 40_000;
const FAIL_EVERY = 3;
// How long after the degradation a steered player may still be fetching from cdn-a: its buffer
// runs dry (~9 s), the SDK's next batch carries the stalls (it sends every 10 s), the gap holds
// (3 s), the player's next poll (TTL 4 s) and the segment it is loading from cdn-a (~4 s paced).
const MOVE_BOUND_MS = 40000;
// Seconds of media each player keeps ahead.
const BUFFER_S = 8;
// The ladder's lowest rendition (360p): six decoders on two shared cores, and no ABR deciding
// how long a segment from the degraded CDN takes.
const RENDITIONS = [2];

/** Each group: its country (the cohort), and whether its pages start on cdn-a and steer. */
const GROUPS = { on: { country: 'ON', steered: true }, off: { country: 'OFF', steered: true }, ref: { country: 'ON', steered: false } };
const PATHWAYS = ['cdn-a', 'cdn-b'];
const modules = (file) => fs.readFileSync(path.join(repo, 'tests/browser/node_modules', file));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// openqoe's reads send its token: set once the server has started.
let readHeaders = {};
const getJson = async (url) => {
  const response = await fetch(url, { headers: readHeaders });
  assert.equal(response.status, 200, `GET ${url}: ${response.status}`);
  return response.json();
};

/** Each player: its script and how the page builds it (`tag` names the page's manifests). */
const PLAYERS = {
  hlsjs: {
    name: 'hls.js',
    script: 'hls.js/dist/hls.min.js',
    start: `const hls = new Hls({ maxBufferLength: ${BUFFER_S}, maxMaxBufferLength: ${BUFFER_S} });
      window.__handle = openqoe.monitor(openqoe.hlsjs(hls), options);
      hls.on(Hls.Events.STEERING_MANIFEST_LOADED, (_, d) => note('steering', d.steeringManifest['PATHWAY-PRIORITY'].join(',')));
      hls.on(Hls.Events.ERROR, (_, d) => note('error', d.details + ' action=' + d.errorAction?.action + ' flags=' + d.errorAction?.flags + ' fatal=' + d.fatal));
      hls.on(Hls.Events.LEVELS_UPDATED, () => note('levels', hls.levels.map((l) => l.pathwayId + ':' + l.height).join(',')));
      hls.on(Hls.Events.MANIFEST_PARSED, () => video.play().catch(() => {}));
      hls.loadSource('/' + tag + '/master.m3u8');
      hls.attachMedia(video);`,
  },
  dashjs: {
    name: 'dash.js',
    script: 'dashjs/dist/modern/umd/dash.all.min.js',
    start: `const player = dashjs.MediaPlayer().create();
      player.updateSettings({ debug: { logLevel: 0 }, streaming: {
        buffer: { bufferTimeDefault: ${BUFFER_S}, bufferTimeAtTopQuality: ${BUFFER_S}, bufferTimeAtTopQualityLongForm: ${BUFFER_S} } } });
      const events = dashjs.MediaPlayer.events;
      player.on(events.CONTENT_STEERING_REQUEST_COMPLETED, (e) => note('steering', (e.currentSteeringResponseData?.pathwayPriority ?? []).join(',')));
      player.on(events.ERROR, (e) => note('error', JSON.stringify(e.error ?? e).slice(0, 200)));
      player.initialize(video, '/' + tag + '/manifest.mpd', true);
      window.__handle = openqoe.monitor(openqoe.dashjs(player), options);`,
  },
};

/**
 * One pathway's origin: the media under `/<page tag>/…` (the tag says which page asked; the file
 * is the same for all), with CORS, every request recorded. `degrade(pace, failEvery)` paces every
 * response (those in flight too) and answers 503 to every `failEvery`-th segment request of a page.
 */
function startPathwayOrigin(mediaDir) {
  const state = { pace: 0, failEvery: 0, segments: {} };
  const log = [];
  const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' };
  const server = http.createServer(async (req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, cors);
      return res.end();
    }
    const [, tag, ...rest] = new URL(req.url, 'http://origin').pathname.split('/');
    const file = path.join(mediaDir, path.normalize(rest.join('/')));
    const segment = /\.(ts|m4s)$/.test(file) && !/init-/.test(file);
    const entry = { t: Date.now(), tag, file: rest.join('/'), segment, status: 200 };
    log.push(entry);
    if (!file.startsWith(mediaDir + path.sep) || !fs.statSync(file, { throwIfNoEntry: false })?.isFile()) {
      entry.status = 404;
      res.writeHead(404, cors);
      return res.end();
    }
    if (segment && state.failEvery > 0 && (state.segments[tag] = (state.segments[tag] ?? 0) + 1) % state.failEvery === 0) {
      entry.status = 503;
      res.writeHead(503, cors);
      return res.end();
    }
    const body = fs.readFileSync(file);
    const type = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.m4s': 'video/iso.segment' }[path.extname(file)];
    res.writeHead(200, { ...cors, 'content-type': type ?? 'application/octet-stream', 'content-length': body.length });
    for (let at = 0; at < body.length && !res.destroyed;) {
      const pace = state.pace;
      const piece = body.subarray(at, at + (pace > 0 ? Math.max(1024, Math.round(pace / 20)) : body.length));
      at += piece.length;
      if (!res.write(piece)) await new Promise((r) => { res.once('drain', r); res.once('close', r); });
      if (pace > 0) await sleep((piece.length / pace) * 1000);
    }
    res.end();
    entry.done = Date.now();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    host: `127.0.0.1:${server.address().port}`,
    log,
    degrade: (pace, failEvery) => Object.assign(state, { pace, failEvery, segments: {} }),
    close: () => { server.closeAllConnections(); server.close(); },
  })));
}

/**
 * The HLS multivariant playlist of one page: with steering, every rendition once per pathway
 * (cdn-a first, the initial pathway); without, cdn-b's alone.
 */
function multivariant(mediaDir, tag, steerUrl, origins) {
  const stock = fs.readFileSync(path.join(mediaDir, 'hls/master.m3u8'), 'utf8');
  const infos = [...stock.matchAll(/#EXT-X-STREAM-INF:(.*)\n(v(\d+)\/index\.m3u8)/g)];
  const lines = ['#EXTM3U', '#EXT-X-VERSION:3', '#EXT-X-INDEPENDENT-SEGMENTS'];
  if (steerUrl) lines.push(`#EXT-X-CONTENT-STEERING:SERVER-URI="${steerUrl}",PATHWAY-ID="${PATHWAYS[0]}"`);
  PATHWAYS.forEach((pathway, p) => {
    if (!steerUrl && p === 0) return;
    for (const [, attrs, uri, index] of infos) {
      if (!RENDITIONS.includes(Number(index))) continue;
      lines.push(`#EXT-X-STREAM-INF:${attrs}${steerUrl ? `,PATHWAY-ID="${pathway}",STABLE-VARIANT-ID="v${index}"` : ''}`, `${origins[p].url}/${tag}/hls/${uri}`);
    }
  });
  return `${lines.join('\n')}\n`;
}

/**
 * The DASH MPD of one page: with steering, one BaseURL per pathway (serviceLocation) and a
 * ContentSteering element; without, cdn-b's BaseURL alone.
 */
function mpd(mediaDir, tag, steerUrl, origins) {
  let text = fs.readFileSync(path.join(mediaDir, 'dash/manifest.mpd'), 'utf8');
  for (let i = 0; i < 3; i++) {
    if (!RENDITIONS.includes(i)) text = text.replace(new RegExp(`\\s*<Representation id="${i}"[\\s\\S]*?</Representation>`), '');
  }
  const baseUrls = PATHWAYS.map((pathway, p) => `\t<BaseURL serviceLocation="${pathway}">${origins[p].url}/${tag}/dash/</BaseURL>`).filter((_, p) => steerUrl || p === 1);
  const steering = steerUrl ? `\t<ContentSteering defaultServiceLocation="${PATHWAYS[0]}" queryBeforeStart="true">${steerUrl}</ContentSteering>\n` : '';
  return text.replace('\t<ServiceDescription', `${baseUrls.join('\n')}\n\t<ServiceDescription`).replace('\t<Period', `${steering}\t<Period`);
}

const page = (player, group, collector) => `<!doctype html><meta charset="utf-8"><title>${player} steering ${group}</title><link rel="icon" href="data:,">
<video id="v" muted playsinline width="320" height="180"></video>
<script src="/${player}.js"></script>
<script src="${collector}/sdk/openqoe.js"></script>
<script>
  const tag = '${player}-${group}';
  const video = document.getElementById('v');
  const options = { collector: '${collector}', key: 'demo',
                    props: { content_id: 'steering-e2e', steering: '${group}', country: '${GROUPS[group].country}' } };
  const log = window.__log = { notes: [], playingAt: null };
  const note = (type, value) => log.notes.push({ t: Date.now(), type, value });
  video.addEventListener('playing', () => { log.playingAt ??= Date.now(); note('playing'); });
  video.addEventListener('waiting', () => note('waiting', video.currentTime));
  video.addEventListener('ended', () => note('ended'));
  // Ground truth beside the SDK's: gaps between presented frames over 250 ms (as the SDK counts a stall).
  let lastFrame = null;
  const frame = (now, meta) => {
    if (lastFrame !== null && now - lastFrame > 250 && !video.paused) {
      log.notes.push({ t: Date.now(), type: 'gap', value: Math.round(now - lastFrame), mediaTime: meta.mediaTime, presentedFrames: meta.presentedFrames });
    }
    lastFrame = now;
    video.requestVideoFrameCallback(frame);
  };
  video.requestVideoFrameCallback(frame);
  ${PLAYERS[player].start}
</script>`;

/** A metric's breakdown rows over the test's views, by group (`steering`) and player. */
async function breakdown(url, metric, from, to) {
  const query = new URLSearchParams({ from: String(from), to: String(to), group_by: 'steering,player_name', filter: 'content_id:steering-e2e' });
  return (await getJson(`${url}/v1/metrics/${metric}/breakdown?${query}`)).rows;
}

const mediaDir = media(SECONDS);

test('content steering: openqoe moves the steered players off a degraded CDN, and they rebuffer less than the control', { timeout: 200000 }, async () => {
  const origins = [await startPathwayOrigin(mediaDir), await startPathwayOrigin(mediaDir)];
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'openqoe-steering-'));
  const config = path.join(tempDir, 'openqoe.toml');
  fs.writeFileSync(config, `[steer]
enabled = true
ttl_seconds = 4
window_seconds = 30
evaluate_seconds = 1
min_views = 2
min_reports = 2
demote_margin = 15.0
restore_margin = 5.0
hold_seconds = 3
restore_seconds = 300
exploration_share = 0.0
throughput_need_bps = 3000000
cohort_dimensions = ["country"]
${PATHWAYS.map((id, p) => `[[steer.pathways]]\nid = "${id}"\ncdn = "${origins[p].host}"\n`).join('')}`);
  const openqoe = startOpenqoe('serve', 'openqoe listening:', { OPENQOE_CONFIG: config });
  let app;
  let launched;
  const record = { config: fs.readFileSync(config, 'utf8'), steer: [] };
  try {
    const url = await openqoe.url;
    readHeaders = await openqoe.headers;
    const steerUrl = (protocol, group) => GROUPS[group].steered && `${url}/v1/steer/${protocol}?country=${GROUPS[group].country}`;
    // The pages and their manifests come from a third origin, so degrading cdn-a leaves them alone.
    const routes = {};
    for (const player of Object.keys(PLAYERS)) {
      routes[`/${player}.js`] = ['text/javascript', modules(PLAYERS[player].script)];
      for (const group of Object.keys(GROUPS)) {
        const tag = `${player}-${group}`;
        routes[`/${tag}.html`] = ['text/html', page(player, group, url)];
        routes[`/${tag}/master.m3u8`] = ['application/vnd.apple.mpegurl', multivariant(mediaDir, tag, steerUrl('hls', group), origins)];
        routes[`/${tag}/manifest.mpd`] = ['application/dash+xml', mpd(mediaDir, tag, steerUrl('dash', group), origins)];
      }
    }
    const tags = Object.keys(PLAYERS).flatMap((player) => Object.keys(GROUPS).map((group) => `${player}-${group}`));
    routes['/grid.html'] = ['text/html', `<!doctype html><meta charset="utf-8"><title>steering e2e</title><link rel="icon" href="data:,"><body style="margin:0">
${tags.map((tag) => `<iframe src="/${tag}.html" width="336" height="196" style="border:0"></iframe>`).join('\n')}`];
    app = http.createServer((req, res) => {
      const route = routes[new URL(req.url, 'http://app').pathname];
      res.writeHead(route ? 200 : 404, route ? { 'content-type': route[0] } : {});
      res.end(route?.[1]);
    });
    await new Promise((r) => app.listen(0, '127.0.0.1', r));
    const appUrl = `http://127.0.0.1:${app.address().port}`;

    // The control group: the static priority, pinned by the operator API.
    const override = await openqoe.api('/v1/steer/overrides', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ cohort: { country: GROUPS.off.country }, priority: PATHWAYS, reason: 'control group' }),
    });
    assert.equal(override.status, 201, `override: ${override.status} ${await override.clone().text()}`);
    record.override = await override.json();

    // One page holding every player in an iframe: headless Chromium runs the frame callbacks of
    // all but its foreground page at 1 Hz, which the SDK (and anyone) would take for stalls.
    launched = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    await launched.page.goto(`${appUrl}/grid.html`);
    const frames = {};
    for (const tag of tags) frames[tag] = launched.page.frames().find((f) => f.url().endsWith(`/${tag}.html`));
    await Promise.all(Object.values(frames).map((frame) => frame.waitForFunction(() => window.__log.playingAt && window.__handle?.viewId, null, { timeout: 40000, polling: 250 })));
    const started = Date.now();
    await sleep(HEALTHY_MS);
    const degradedAt = Date.now();
    origins[0].degrade(DEGRADED_PACE, FAIL_EVERY);
    // While cdn-a is degraded, watch the server's priority for each cohort.
    while (Date.now() - degradedAt < DEGRADED_MS) {
      const state = await getJson(`${url}/v1/steer`);
      record.steer.push({ t: Date.now(), cohorts: (state.cohorts ?? []).map((c) => ({ cohort: c.cohort, priority: c.priority, health: c.health })) });
      await sleep(1000);
    }
    // The viewers leave: each SDK ends its view (and sends that at once).
    const leave = () => {
      const seen = { ...window.__log, viewId: window.__handle.viewId, currentTime: document.getElementById('v').currentTime };
      window.__handle.end();
      return seen;
    };
    const pages = Object.fromEntries(await Promise.all(Object.entries(frames).map(async ([tag, frame]) => [tag, await frame.evaluate(leave)])));
    const endedAt = Date.now();
    record.pages = pages;
    const views = {};
    for (const [tag, { viewId }] of Object.entries(pages)) {
      for (let i = 0; i < 100 && views[tag]?.status !== 'ended'; i++) {
        if (i > 0) await sleep(200);
        views[tag] = await getJson(`${url}/v1/views/${viewId}`);
      }
      assert.equal(views[tag].status, 'ended', `${tag}: the view ended`);
      views[tag].events = await getJson(`${url}/v1/views/${viewId}/events`);
    }
    record.views = views;
    const state = await getJson(`${url}/v1/steer`);
    record.finalState = state;

    // What openqoe measured, per group and player, from its own query API.
    const [from, to] = [started - 120000, endedAt + 60000];
    const sums = {};
    for (const metric of ['rebuffer_duration_ms', 'playing_time_ms', 'rebuffer_count']) {
      for (const row of await breakdown(url, metric, from, to)) {
        const key = `${row.group.steering}/${row.group.player_name}`;
        sums[key] ??= { views: row.views };
        sums[key][metric] = row.sum;
      }
    }
    record.sums = sums;
    const pooled = (keys) => {
      const rows = keys.map((k) => sums[k]).filter(Boolean);
      const rebuffer = rows.reduce((s, r) => s + r.rebuffer_duration_ms, 0);
      const playing = rows.reduce((s, r) => s + r.playing_time_ms, 0);
      return { pct: (rebuffer * 100) / (rebuffer + playing), stalls: rows.reduce((s, r) => s + r.rebuffer_count, 0), views: rows.reduce((s, r) => s + r.views, 0) };
    };
    const names = Object.values(PLAYERS).map((p) => p.name);
    const groupFigures = Object.fromEntries(Object.keys(GROUPS).map((g) => [g, pooled(names.map((n) => `${g}/${n}`))]));
    const playerFigures = Object.fromEntries(Object.keys(GROUPS).flatMap((g) => Object.keys(PLAYERS).map((p) => [`${p}-${g}`, pooled([`${g}/${PLAYERS[p].name}`])])));

    // Where each page fetched its segments from, by the origins' own records.
    const segmentsFrom = (o, tag, after = 0) => origins[o].log.filter((e) => e.tag === tag && e.segment && e.t >= after && e.t < endedAt);
    const moved = {};
    for (const player of Object.keys(PLAYERS)) {
      const first = segmentsFrom(1, `${player}-on`)[0];
      moved[player] = first ? first.t - degradedAt : null;
    }
    // A demotion covering the steered viewers: for country=ON or a coarser cohort (everyone).
    const coversOn = (cohort) => Object.entries(cohort ?? {}).every(([k, v]) => k === 'country' && v === GROUPS.on.country);
    const demotion = (state.changes ?? []).filter((c) => c.kind === 'demoted' && c.pathway === 'cdn-a' && coversOn(c.cohort)).pop();
    const demotedAt = demotion?.at;
    const onCohort = (st) => st.cohorts?.find((c) => c.cohort?.country === GROUPS.on.country && Object.keys(c.cohort).length === 1);
    const flipped = record.steer.find((st) => onCohort(st)?.priority?.[0] === 'cdn-b');
    record.figures = { degradedAt, moved, demotion, flippedAt: flipped?.t, groupFigures, playerFigures };

    const s = (ms) => (ms === null || ms === undefined || Number.isNaN(ms) ? 'never' : `${(ms / 1000).toFixed(1)} s`);
    const pct = (f) => `${f.pct.toFixed(1)} %`;
    const who = (cohort) => (Object.keys(cohort ?? {}).length ? Object.entries(cohort).map(([k, v]) => `${k}=${v}`).join(' & ') : 'everyone');
    console.log(`steering e2e: server demoted cdn-a for ${demotion ? who(demotion.cohort) : 'nobody'} ${s(demotedAt - degradedAt)} after degradation (${demotion?.reason ?? 'no demotion'}); GET /v1/steer showed cdn-b first for country=ON ${s(flipped && flipped.t - degradedAt)} after`);
    for (const player of Object.keys(PLAYERS)) {
      const [on, off] = [playerFigures[`${player}-on`], playerFigures[`${player}-off`]];
      console.log(`steering e2e: ${PLAYERS[player].name} steered moved to cdn-b ${s(moved[player])} after degradation (control: ${segmentsFrom(1, `${player}-off`).length} segments from cdn-b); rebuffer on ${pct(on)} (${on.stalls} stalls) vs off ${pct(off)} (${off.stalls} stalls)`);
    }
    const [on, off, ref] = [groupFigures.on, groupFigures.off, groupFigures.ref];
    // The pages' own count, independent of the SDK: time lost in gaps between presented frames.
    const frozen = (group) => Object.keys(PLAYERS).reduce((sum, p) => sum + pages[`${p}-${group}`].notes.filter((n) => n.type === 'gap').reduce((a, n) => a + n.value, 0), 0);
    record.figures.frozenMs = Object.fromEntries(Object.keys(GROUPS).map((g) => [g, frozen(g)]));
    console.log(`steering e2e: rebuffer steered ${pct(on)} (${on.stalls} stalls, ${on.views} views) vs control ${pct(off)} (${off.stalls} stalls, ${off.views} views), cdn-b reference ${pct(ref)}; the pages saw ${s(frozen('on'))} vs ${s(frozen('off'))} frozen; ${(HEALTHY_MS + DEGRADED_MS) / 1000} s, cdn-a degraded for the last ${DEGRADED_MS / 1000} s`);

    // Before the degradation the steered and control pages played from cdn-a, the initial pathway,
    // and the reference pages from cdn-b (they never touch cdn-a).
    for (const tag of Object.keys(frames)) {
      const [start, other] = tag.endsWith('-ref') ? [1, 0] : [0, 1];
      assert.ok(segmentsFrom(start, tag).length > 0, `${tag} fetched segments from ${PATHWAYS[start]}`);
      assert.equal(segmentsFrom(other, tag).filter((e) => tag.endsWith('-ref') || e.t < degradedAt).length, 0, `${tag} fetched nothing from ${PATHWAYS[other]} while cdn-a was healthy`);
    }
    // The server saw it and said why.
    assert.ok(demotion, `the server demoted cdn-a for country=ON (changes: ${JSON.stringify(state.changes)})`);
    assert.ok(typeof demotion.reason === 'string' && demotion.reason.length > 0, 'the demotion has a reason');
    assert.ok(demotedAt >= degradedAt, 'the demotion came after the degradation');
    assert.equal(onCohort(state)?.priority?.[0], 'cdn-b', `cdn-b first for country=ON at the end (${JSON.stringify(onCohort(state))})`);
    const offCohort = state.cohorts.find((c) => c.cohort?.country === GROUPS.off.country);
    assert.deepEqual(offCohort?.priority, PATHWAYS, `the override kept country=OFF on the static priority (${JSON.stringify(offCohort)})`);
    for (const player of Object.keys(PLAYERS)) {
      // The steered player moved within the bound, and stayed: no segment from cdn-a after it.
      assert.ok(moved[player] !== null && moved[player] <= MOVE_BOUND_MS, `${player} steered moved to cdn-b within ${MOVE_BOUND_MS / 1000} s (${s(moved[player])})`);
      const late = segmentsFrom(0, `${player}-on`, degradedAt + MOVE_BOUND_MS);
      assert.equal(late.length, 0, `${player} steered fetched no segment from cdn-a after the bound (${late.map((e) => e.file).join(', ')})`);
      // The control: every steering manifest it got said cdn-a first, and it never left cdn-a.
      const told = pages[`${player}-off`].notes.filter((n) => n.type === 'steering').map((n) => n.value);
      assert.ok(told.length > 0 && told.every((p) => p === PATHWAYS.join(',')), `${player} control was told ${PATHWAYS.join(',')} (${told.join(' / ')})`);
      assert.equal(segmentsFrom(1, `${player}-off`).length, 0, `${player} control stayed on cdn-a`);
      // And the point of it all: the steered viewer rebuffered less.
      assert.ok(playerFigures[`${player}-on`].pct < playerFigures[`${player}-off`].pct,
        `${player}: rebuffer steered ${pct(playerFigures[`${player}-on`])} < control ${pct(playerFigures[`${player}-off`])}`);
    }
    for (const group of Object.keys(GROUPS)) assert.equal(groupFigures[group].views, 2, `two ${group} views measured`);
    assert.deepEqual(launched.problems.filter((p) => p.startsWith('page error')), [], 'no uncaught errors in the pages');
    assert.ok(off.pct > 10, `the degradation hurt the control (${pct(off)})`);
    assert.ok(on.pct < off.pct / 2, `steering at least halved the rebuffering (${pct(on)} vs ${pct(off)})`);
  } finally {
    record.origins = origins.map((o) => o.log);
    record.problems = launched?.problems;
    fs.mkdirSync(artifacts, { recursive: true });
    fs.writeFileSync(path.join(artifacts, 'steering-e2e.json'), JSON.stringify(record, null, 1));
    await launched?.context.close();
    app?.close();
    origins.forEach((o) => o.close());
    openqoe.stop();
    fs.rmSync(tempDir, { recursive: true, force: true });
  }
});
