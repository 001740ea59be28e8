// Test media, made by ffmpeg at test time: one H.264/AAC encode of a 3-rendition ladder (2 s
// GOPs, distinct picture sizes so a rendition switch is visible in the presented frames),
// packaged without re-encoding as HLS (TS), DASH (fMP4) and a progressive MP4. The result is
// cached per duration under the system's temp directory, so test files and reruns share it.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

/** The ladder: picture size and video bitrate of each rendition, best first. */
export const LADDER = [
  { width: 1280, height: 720, kbps: 2500 },
  { width: 854, height: 480, kbps: 1200 },
  { width: 640, height: 360, kbps: 600 },
];

const ffmpeg = (args, cwd) => execFileSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { cwd });

/** Returns a directory holding `hls/master.m3u8`, `dash/manifest.mpd` and `progressive.mp4` of `seconds`. */
export function media(seconds) {
  const dir = path.join(os.tmpdir(), `openqoe-media-v1-${seconds}s`);
  if (fs.existsSync(path.join(dir, 'complete'))) return dir;
  const work = fs.mkdtempSync(`${dir}-tmp-`);
  const split = LADDER.map((_, i) => `[v${i}]`).join('');
  const scale = LADDER.map((r, i) => `[v${i}]scale=${r.width}:${r.height}[o${i}]`).join(';');
  ffmpeg(['-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-filter_complex', `[0:v]split=${LADDER.length}${split};${scale}`,
    ...LADDER.flatMap((r, i) => ['-map', `[o${i}]`, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'main', '-pix_fmt', 'yuv420p',
      '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-b:v', `${r.kbps}k`, '-maxrate', `${r.kbps}k`, '-bufsize', `${r.kbps}k`, `v${i}.mp4`]),
    '-map', '1:a', '-vn', '-c:a', 'aac', '-b:a', '96k', '-ac', '2', 'a.m4a'], work);
  const inputs = [...LADDER.flatMap((_, i) => ['-i', `v${i}.mp4`]), '-i', 'a.m4a'];
  const audio = LADDER.length;
  fs.mkdirSync(path.join(work, 'hls'));
  ffmpeg([...inputs, ...LADDER.flatMap((_, i) => ['-map', `${i}:v`, '-map', `${audio}:a`]), '-c', 'copy',
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_filename', 'hls/v%v/seg_%03d.ts',
    '-master_pl_name', 'master.m3u8', '-var_stream_map', LADDER.map((_, i) => `v:${i},a:${i}`).join(' '), 'hls/v%v/index.m3u8'], work);
  fs.mkdirSync(path.join(work, 'dash'));
  ffmpeg([...inputs, ...LADDER.flatMap((_, i) => ['-map', `${i}:v`]), '-map', `${audio}:a`, '-c', 'copy',
    '-f', 'dash', '-seg_duration', '2', '-use_template', '1', '-use_timeline', '0',
    '-adaptation_sets', `id=0,streams=${LADDER.map((_, i) => i).join(',')} id=1,streams=${audio}`, 'dash/manifest.mpd'], work);
  ffmpeg(['-i', 'v1.mp4', '-i', 'a.m4a', '-map', '0:v', '-map', '1:a', '-c', 'copy', '-movflags', '+faststart', 'progressive.mp4'], work);
  for (const f of [...LADDER.map((_, i) => `v${i}.mp4`), 'a.m4a']) fs.rmSync(path.join(work, f));
  fs.writeFileSync(path.join(work, 'complete'), '');
  try {
    fs.renameSync(work, dir);
  } catch {
    // Another test file made it first: use theirs.
    fs.rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/** CMSD headers for a media path: object type from the file, throughput from the origin's state. */
function cmsd(pathname, paceBytesPerSecond, held) {
  const audio = /chunk-stream(\d+)/.exec(pathname)?.[1] >= LADDER.length || /init-stream(\d+)/.exec(pathname)?.[1] >= LADDER.length;
  const ot = /\.(m3u8|mpd)$/.test(pathname) ? 'm' : /init-/.test(pathname) ? 'i' : /\.ts$/.test(pathname) ? 'av' : audio ? 'a' : 'v';
  const etpKbps = held ? 0 : paceBytesPerSecond > 0 ? Math.round((paceBytesPerSecond * 8) / 1000) : 100000;
  return { 'cmsd-static': `ot=${ot},st=v,n="${CMSD_SERVER}"`, 'cmsd-dynamic': `"${CMSD_SERVER}";etp=${etpKbps};rtt=1` };
}

/** The name the test origin gives itself in CMSD. */
export const CMSD_SERVER = 'openqoe-test-origin';

const TYPES = { '.m3u8': 'application/vnd.apple.mpegurl', '.ts': 'video/mp2t', '.mpd': 'application/dash+xml', '.m4s': 'video/iso.segment', '.mp4': 'video/mp4', '.html': 'text/html', '.js': 'text/javascript' };

/**
 * A test origin on loopback serving `mediaDir` under `/media/` (with byte ranges, as a CDN does)
 * plus `pages` (path → body). The test controls it: `hold(ms)` stops every media response — new
 * and in progress — for that long (the throughput drops to zero), `fail(pattern)` answers 404 to
 * matching paths (both also as `/control/hold?ms=` and `/control/fail?pattern=` for a page), and
 * `paceBytesPerSecond` caps each response's throughput. Media responses
 * carry CMSD (CTA-5006) `CMSD-Static` (object type, stream type) and `CMSD-Dynamic` (this
 * server's estimated throughput and round trip), as a CDN edge that speaks CMSD would.
 */
export function startOrigin(mediaDir, pages, { paceBytesPerSecond = 0 } = {}) {
  let heldUntil = 0;
  let failing = null;
  const requests = [];
  const waitWhileHeld = async () => {
    while (Date.now() < heldUntil) await new Promise((r) => setTimeout(r, heldUntil - Date.now()));
  };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://origin');
    if (url.pathname === '/control/fail') {
      failing = new RegExp(url.searchParams.get('pattern'));
      res.writeHead(204, { 'access-control-allow-origin': '*' });
      return res.end();
    }
    if (url.pathname === '/control/hold') {
      heldUntil = Date.now() + Number(url.searchParams.get('ms'));
      res.writeHead(204, { 'access-control-allow-origin': '*' });
      return res.end();
    }
    if (pages[url.pathname] !== undefined) {
      const page = pages[url.pathname];
      res.writeHead(200, { 'content-type': TYPES[path.extname(url.pathname)] ?? 'text/html' });
      return res.end(typeof page === 'function' ? page(url) : page);
    }
    const file = path.join(mediaDir, path.normalize(url.pathname.replace(/^\/media\//, '')));
    requests.push(url.pathname);
    if (!file.startsWith(mediaDir) || !fs.existsSync(file) || !fs.statSync(file).isFile() || failing?.test(url.pathname)) {
      res.writeHead(404);
      return res.end();
    }
    const body = fs.readFileSync(file);
    let [start, end] = [0, body.length - 1];
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), end) : end;
    }
    res.writeHead(range ? 206 : 200, {
      ...cmsd(url.pathname, paceBytesPerSecond, Date.now() < heldUntil),
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': end - start + 1, 'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    });
    await waitWhileHeld();
    const chunk = paceBytesPerSecond > 0 ? Math.max(1024, Math.round(paceBytesPerSecond / 20)) : body.length;
    for (let at = start; at <= end && !res.destroyed; at += chunk) {
      await waitWhileHeld();
      const piece = body.subarray(at, Math.min(at + chunk, end + 1));
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      if (paceBytesPerSecond > 0) await new Promise((r) => setTimeout(r, (piece.length / paceBytesPerSecond) * 1000));
    }
    res.end();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    url: `http://127.0.0.1:${server.address().port}`,
    hold: (ms) => { heldUntil = Date.now() + ms; },
    fail: (pattern) => { failing = pattern; },
    requests,
    close: () => { server.closeAllConnections(); server.close(); },
  })));
}
