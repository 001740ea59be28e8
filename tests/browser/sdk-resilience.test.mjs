// The SDK's delivery under the failures viewers' networks and browsers produce, with the real
// openqoe behind an HTTP relay the test can take down (connections refused, as with a dead
// collector): a 30 s outage mid-view, a tab closed mid-view, and a reload while events are queued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { launchChromium, startOpenqoe } from './support.mjs';
import { media, startOrigin } from './media.mjs';

const mediaDir = media(40);

/** An HTTP relay to `target` on a fixed port: `down()` refuses connections, `up()` serves again; `acked` logs each batch openqoe took. */
async function startRelay(target) {
  const acked = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const upstream = await fetch(target + req.url, { method: req.method, headers: { 'content-type': req.headers['content-type'] ?? 'text/plain' }, body: req.method === 'POST' ? body : undefined });
    if (req.method === 'POST' && upstream.status < 300) {
      const batch = JSON.parse(body);
      acked.push({ view: batch.view.id, seqs: batch.events.map((e) => e.seq) });
    }
    const headers = {};
    upstream.headers.forEach((value, name) => { if (name.startsWith('access-control-') || name === 'content-type' || name === 'retry-after') headers[name] = value; });
    res.writeHead(upstream.status, headers);
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    url: `http://127.0.0.1:${port}`,
    acked,
    down: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
    up: () => new Promise((resolve) => server.listen(port, '127.0.0.1', resolve)),
  };
}

const page = (sdk, collector) => `<!doctype html><meta charset="utf-8"><title>SDK resilience</title><link rel="icon" href="data:,">
<video id="v" muted playsinline width="640" height="360" src="/media/progressive.mp4"></video>
<script src="${sdk}/sdk/openqoe.js"></script>
<script>
  const video = document.getElementById('v');
  window.__handle = openqoe.monitor(video, { collector: ${JSON.stringify(collector)}, key: 'demo', props: { content_id: 'resilience' }, heartbeatMs: 2000 });
  window.__viewId = window.__handle.viewId;
  video.addEventListener('ended', () => { window.__handle.end(); window.__ended = true; });
  video.play();
</script>`;

async function setUp() {
  const openqoe = startOpenqoe('serve', 'openqoe listening:');
  const sdk = await openqoe.url;
  const relay = await startRelay(sdk);
  const origin = await startOrigin(mediaDir, { '/page.html': page(sdk, relay.url) });
  const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  const attempts = [];
  browser.context.on('request', (request) => { if (request.url().startsWith(`${relay.url}/v1/events`)) attempts.push(Date.now()); });
  const view = async (id) => (await openqoe.api(`/v1/views/${id}`)).json();
  const events = async (id) => (await (await openqoe.api(`/v1/views/${id}/events`)).json()).events;
  const until = async (what, check, ms) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const stop = async () => {
    await browser.context.close();
    origin.close();
    await relay.down().catch(() => {});
    openqoe.stop();
  };
  return { relay, origin, browser, attempts, view, events, until, stop };
}

/** Every seq from 0 to the last, each once, in ascending order across acknowledged batches. */
function assertOnceInOrder(acked, viewId, events) {
  const seqs = acked.filter((b) => b.view === viewId).flatMap((b) => b.seqs);
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'acknowledged in seq order');
  assert.equal(new Set(seqs).size, seqs.length, 'each event acknowledged once');
  assert.deepEqual(events.map((e) => e.seq), events.map((_, i) => i), 'no seq missing');
  assert.equal(events.at(-1).type, 'view_end');
}

test('collector unreachable for 30 s mid-view: every event arrives, in order, once', { timeout: 150000 }, async () => {
  const t = await setUp();
  try {
    const { page: tab } = t.browser;
    await tab.goto(`${t.origin.url}/page.html`);
    await tab.waitForFunction(() => document.getElementById('v').currentTime > 3, null, { timeout: 30000 });
    await t.relay.down();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 30000));
    const triedWhileDown = t.attempts.filter((at) => at >= downAt).length;
    await t.relay.up();
    await tab.waitForFunction(() => window.__ended, null, { timeout: 60000 });
    const viewId = await tab.evaluate(() => window.__viewId);
    const ended = await t.until('the view to end', async () => { const v = await t.view(viewId); return v.status === 'ended' && v; }, 60000);
    const events = await t.events(viewId);
    assertOnceInOrder(t.relay.acked, viewId, events);
    const heartbeats = events.filter((e) => e.type === 'heartbeat').length;
    console.log(`sdk resilience: outage 30 s, ${triedWhileDown} attempts while down, ${events.length} events (${heartbeats} heartbeats) all delivered once in order; watch ${ended.metrics.watch_time_ms} ms`);
    assert.ok(heartbeats >= 15, `heartbeats every 2 s through the outage arrived (${heartbeats})`);
    // Exponential backoff from 1 s: about five tries in 30 s, never a storm.
    assert.ok(triedWhileDown >= 2 && triedWhileDown <= 8, `${triedWhileDown} attempts in 30 s of outage`);
  } finally {
    await t.stop();
  }
});

test('a tab closed mid-view ends the view by beacon', { timeout: 60000 }, async () => {
  const t = await setUp();
  try {
    const { page: tab } = t.browser;
    await tab.goto(`${t.origin.url}/page.html`);
    await tab.waitForFunction(() => document.getElementById('v').currentTime > 3, null, { timeout: 30000 });
    const viewId = await tab.evaluate(() => window.__viewId);
    await tab.close();
    const view = await t.until('the view to end', async () => { const v = await t.view(viewId); return v.status === 'ended' && v; }, 20000);
    const events = await t.events(viewId);
    assert.deepEqual(events.at(-1).type === 'view_end' && events.at(-1).reason, 'pagehide');
    assert.equal(view.end_reason, 'view_end');
    assert.ok(view.metrics.playing_time_ms >= 2500, `the played time counts (${view.metrics.playing_time_ms} ms)`);
    console.log(`sdk resilience: tab closed after ${view.metrics.playing_time_ms} ms of playing; view ended by beacon`);
  } finally {
    await t.stop();
  }
});

test('a reload with queued events delivers them from the next page', { timeout: 90000 }, async () => {
  const t = await setUp();
  try {
    const { page: tab } = t.browser;
    await tab.goto(`${t.origin.url}/page.html`);
    await tab.waitForFunction(() => document.getElementById('v').currentTime > 1, null, { timeout: 30000 });
    const firstView = await tab.evaluate(() => window.__viewId);
    await t.relay.down();
    await tab.waitForFunction(() => document.getElementById('v').currentTime > 7, null, { timeout: 30000 });
    const queued = await tab.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('openqoe:outbox:')).length);
    assert.ok(queued >= 1, 'events wait in storage while the collector is down');
    // The first page's last beacons go nowhere: the collector is still down.
    await tab.reload();
    await t.relay.up();
    const view = await t.until('the first view to arrive whole', async () => { const v = await t.view(firstView); return v.status === 'ended' && v; }, 60000);
    const events = await t.events(firstView);
    assertOnceInOrder(t.relay.acked, firstView, events);
    assert.equal(events.at(-1).reason, 'pagehide');
    assert.ok(view.metrics.playing_time_ms >= 5000, `the played time before the reload counts (${view.metrics.playing_time_ms} ms)`);
    console.log(`sdk resilience: reload with ${events.length} queued events; all delivered by the next page`);
  } finally {
    await t.stop();
  }
});
