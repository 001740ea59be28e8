// openqoe dashboard v0: reads the Query API v1 of the server that serves it.
const page = document.getElementById('page');
const rangeSelect = document.getElementById('range');
let refreshTimer = null;
let charts = [];

// ---- formatting -------------------------------------------------------------------------------
const dash = '—';
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const fmtSeconds = (ms) => (isNum(ms) ? `${(ms / 1000).toFixed(2)} s` : dash);
const fmtPct = (v) => (isNum(v) ? `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}%` : dash);
const fmtBps = (v) => (isNum(v) ? (v >= 1e6 ? `${(v / 1e6).toFixed(2)} Mbps` : `${Math.round(v / 1e3)} kbps`) : dash);
const fmtCount = (v) => (isNum(v) ? (Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2)) : dash);
const fmtTime = (ms) => (isNum(ms) ? new Date(ms).toLocaleTimeString() : dash);
function fmtUnit(unit, v) {
  if (unit === 'score') return v === null || v === undefined ? dash : Number(v).toFixed(1);
  if (unit === 'mos') return v === null || v === undefined ? dash : Number(v).toFixed(2);
  if (unit === 'ms') return fmtSeconds(v);
  if (unit === 'percent') return fmtPct(v);
  if (unit === 'bps') return fmtBps(v);
  return fmtCount(v);
}
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

// ---- API --------------------------------------------------------------------------------------
async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
  return response.json();
}
function window_() {
  const to = Date.now();
  const span = Number(rangeSelect.value);
  return { from: to - span, to: to + 1, interval: span <= 3600000 ? '1m' : span <= 21600000 ? '5m' : '15m' };
}

// ---- charts -----------------------------------------------------------------------------------
function destroyCharts() {
  charts.forEach((c) => c.destroy());
  charts = [];
}
function lineChart(el, xs, series, format, time = true) {
  if (xs.length === 0) {
    el.innerHTML = '<div class="empty">No views in this range yet</div>';
    return;
  }
  const colors = ['#2f6fde', '#e07b22', '#1f8a4c'];
  const opts = {
    width: Math.max(el.clientWidth, 240),
    height: 130,
    legend: { show: series.length > 1, live: false },
    cursor: { points: { size: 5 } },
    scales: { x: { time } },
    axes: [{ size: 28, grid: { stroke: '#eef1f6' } }, { size: 80, values: (u, ticks) => ticks.map(format), grid: { stroke: '#eef1f6' } }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], width: 2, spanGaps: true, points: { show: xs.length < 3 } }))],
  };
  charts.push(new uPlot(opts, [xs, ...series.map((s) => s.values)], el));
}

// ---- overview ---------------------------------------------------------------------------------
const TILES = [
  { id: 'experience', title: 'Experience score', metric: 'experience_score', help: 'One number, 0 to 100: did it play, how fast it started, how smooth, how sharp (average view and median).',
    value: (r) => `${fmtUnit('score', r.mean)}<small>median ${fmtUnit('score', r.p50)}</small>`, series: [{ label: 'mean', field: 'mean' }], format: (v) => fmtUnit('score', v) },
  { id: 'views', title: 'Views', metric: 'playback_failure', help: 'Play attempts that started in this range.',
    value: (r) => fmtCount(r.denominator), series: [{ label: 'views', field: 'denominator' }], format: fmtCount },
  { id: 'startup', title: 'Video startup time', metric: 'video_startup_time_ms', help: 'How long viewers wait from pressing play to the first frame (median and slowest 5%).',
    value: (r) => `${fmtSeconds(r.p50)}<small>p95 ${fmtSeconds(r.p95)}</small>`, series: [{ label: 'p50', field: 'p50' }, { label: 'p95', field: 'p95' }], format: fmtSeconds },
  { id: 'rebuffer', title: 'Rebuffer percentage', metric: 'rebuffer_percentage', help: 'Share of viewing time spent frozen waiting for video (average view and worst 5%).',
    value: (r) => `${fmtPct(r.mean)}<small>p95 ${fmtPct(r.p95)}</small>`, series: [{ label: 'mean', field: 'mean' }, { label: 'p95', field: 'p95' }], format: fmtPct },
  { id: 'failure', title: 'Playback failures', metric: 'playback_failure', help: 'Share of views that ended in an error.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'failed', field: 'value' }], format: fmtPct },
  { id: 'ebvs', title: 'Exits before video start', metric: 'exit_before_video_start', help: 'Share of viewers who gave up waiting before the video started.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'exited', field: 'value' }], format: fmtPct },
  { id: 'startfail', title: 'Startup failures', metric: 'startup_failure', help: 'Share of play attempts that failed with an error before the first frame.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'failed', field: 'value' }], format: fmtPct },
];

async function overview() {
  page.innerHTML = `<h1>How viewers are doing</h1><p class="lede">Key experience numbers for the selected time range, with their trend per interval.
    <span id="audience"></span></p>
    <div class="tiles">${TILES.map((t) => `<section class="tile" id="tile-${t.id}"><h2>${t.title}</h2>
      <div class="value" data-value>${dash}</div><p class="help">${t.help}</p><div class="chart" data-chart></div></section>`).join('')}</div>`;
  const render = async () => {
    const w = window_();
    const results = await Promise.all(TILES.map(async (t) => {
      const [breakdown, series] = await Promise.all([
        api(`/v1/metrics/${t.metric}/breakdown`, { from: w.from, to: w.to }),
        api(`/v1/metrics/${t.metric}/timeseries`, { from: w.from, to: w.to, interval: w.interval }),
      ]);
      return { t, row: breakdown.rows[0] ?? {}, points: series.points };
    }));
    const audience = (await api('/v1/audience', { from: w.from, to: w.to })).rows[0] ?? {};
    document.getElementById('audience').innerHTML = ` <strong data-watching>${fmtCount(audience.watching_now ?? 0)}</strong> watching now · ${fmtCount(audience.unique_viewers ?? 0)} unique viewers in this range.`;
    destroyCharts();
    for (const { t, row, points } of results) {
      const tile = document.getElementById(`tile-${t.id}`);
      if (!tile) return;
      tile.querySelector('[data-value]').innerHTML = t.value(row);
      const chartEl = tile.querySelector('[data-chart]');
      chartEl.innerHTML = '';
      lineChart(chartEl, points.map((p) => p.t / 1000), t.series.map((s) => ({ label: s.label, values: points.map((p) => p[s.field] ?? null) })), t.format);
    }
  };
  await render();
  refreshTimer = setInterval(() => render().catch(showError), 10000);
}

// ---- breakdown --------------------------------------------------------------------------------
async function breakdown(params) {
  const [{ metrics }, { dimensions }] = await Promise.all([api('/v1/metrics'), api('/v1/dimensions')]);
  const metricName = params.get('metric') ?? 'video_startup_time_ms';
  const dims = dimensions.filter((d) => !['player_width', 'player_height', 'sdk_name', 'sdk_version'].includes(d));
  const dim = params.get('by') ?? (dims.includes('cdn') ? 'cdn' : dims[0] ?? '');
  const metric = metrics.find((m) => m.name === metricName) ?? metrics[0];
  page.innerHTML = `<h1>Breakdown</h1><p class="lede">${esc(metric.description)}</p>
    <div class="controls">
      <label>Metric <select id="metric">${metrics.map((m) => `<option ${m.name === metric.name ? 'selected' : ''} value="${m.name}">${m.name}</option>`).join('')}</select></label>
      <label>by <select id="dim">${dims.map((d) => `<option ${d === dim ? 'selected' : ''}>${esc(d)}</option>`).join('')}</select></label>
    </div><div id="table"></div>
    ${metric.kind === 'rate' || metric.name === 'rebuffer_percentage' ? '<section class="card" style="margin-top:16px"><h2>Why?</h2><button id="why">Explain the last 15 minutes against the hour before</button><div id="cause"></div></section>' : ''}`;
  const why = document.getElementById('why');
  if (why) {
    why.onclick = async () => {
      const now = Date.now();
      const r = await api(`/v1/metrics/${metric.name}/rca`, { from: now - 900000, to: now, baseline_from: now - 4500000, baseline_to: now - 900000 });
      document.getElementById('cause').innerHTML = `<p class="lede" data-cause>${esc(r.summary)}</p>${r.causes.length === 0 ? '' : `<table><thead><tr><th>where</th><th class="num">share of the excess</th><th class="num">rate inside</th><th class="num">outside</th><th class="num">normally</th><th class="num">excess</th></tr></thead><tbody>
        ${r.causes.map((c) => `<tr><td>${esc(Object.entries(c.element).map(([d, v]) => `${d}=${v}`).join(' & '))}</td><td class="num">${fmtPct(c.explanatory_power * 100)}</td><td class="num">${fmtPct(c.rate_inside * 100)}</td><td class="num">${fmtPct(c.rate_outside * 100)}</td><td class="num">${fmtPct(c.baseline_rate_inside * 100)}</td><td class="num">${fmtCount(Math.round(c.excess))}</td></tr>`).join('')}</tbody></table>`}`;
    };
  }
  const go = () => { location.hash = `#/breakdown?metric=${document.getElementById('metric').value}&by=${encodeURIComponent(document.getElementById('dim').value)}`; };
  document.getElementById('metric').onchange = go;
  document.getElementById('dim').onchange = go;
  const render = async () => {
    const w = window_();
    const data = await api(`/v1/metrics/${metric.name}/breakdown`, { from: w.from, to: w.to, group_by: dim });
    const cols = metric.kind === 'rate'
      ? [['value', '%'], ['numerator', 'count'], ['denominator', 'count']]
      : [['p50', metric.unit], ['p90', metric.unit], ['p95', metric.unit], ['p99', metric.unit], ['mean', metric.unit]];
    // The experience score decomposes: each part's mean points lost, the largest marked.
    const parts = metric.name === 'experience_score' ? ['playback_success', 'startup', 'smoothness', 'quality'] : [];
    const lost = await Promise.all(parts.map(async (part) => {
      const b = await api(`/v1/metrics/experience_lost_to_${part}/breakdown`, { from: w.from, to: w.to, group_by: dim });
      return new Map(b.rows.map((r) => [r.group[dim] ?? null, r.mean]));
    }));
    const lostCells = (r) => {
      const values = lost.map((m) => m.get(r.group[dim] ?? null) ?? null);
      const worst = Math.max(...values.filter((v) => v !== null));
      return values.map((v) => `<td class="num${v !== null && v === worst && v > 0 ? ' worst' : ''}">${fmtUnit('score', v)}</td>`).join('');
    };
    document.getElementById('table').innerHTML = `<table><thead><tr><th>${esc(dim)}</th><th class="num">views</th>
      ${cols.map(([c]) => `<th class="num">${c}</th>`).join('')}${parts.map((p) => `<th class="num">lost to ${p.replace('_', ' ')}</th>`).join('')}</tr></thead><tbody>
      ${data.rows.map((r) => `<tr class="link" data-filter="${esc(`${dim}:${r.group[dim] ?? ''}`)}"><td>${esc(r.group[dim] ?? '(none)')}</td><td class="num">${fmtCount(r.views)}</td>
        ${cols.map(([c, unit]) => `<td class="num">${unit === '%' ? fmtPct(r[c]) : unit === 'count' ? fmtCount(r[c]) : fmtUnit(unit, r[c])}</td>`).join('')}${parts.length ? lostCells(r) : ''}</tr>`).join('')}
      </tbody></table>`;
    document.querySelectorAll('tr[data-filter]').forEach((tr) => { tr.onclick = () => { location.hash = `#/views?filter=${encodeURIComponent(tr.dataset.filter)}`; }; });
  };
  await render();
  refreshTimer = setInterval(() => render().catch(showError), 10000);
}

// ---- views ------------------------------------------------------------------------------------
async function views(params) {
  const filter = params.get('filter') ?? '';
  page.innerHTML = `<h1>Views</h1><p class="lede">The most recent play attempts. Click one to see what happened, event by event.</p>
    <div class="controls"><label>Filter <input id="filter" placeholder="country:DE" value="${esc(filter)}"></label></div><div id="table"></div>`;
  document.getElementById('filter').onchange = (e) => { location.hash = `#/views?filter=${encodeURIComponent(e.target.value)}`; };
  const render = async () => {
    const w = window_();
    const { views: list } = await api('/v1/views', { from: w.from, to: w.to, filter, limit: 100 });
    document.getElementById('table').innerHTML = list.length === 0 ? '<div class="empty">No views match</div>' : `<table><thead><tr>
      <th>started</th><th>status</th><th>title</th><th>device</th><th>country</th><th>cdn</th><th class="num">startup</th><th class="num">rebuffer</th><th>outcome</th></tr></thead><tbody>
      ${list.map((v) => `<tr class="link" data-id="${esc(v.id)}"><td>${fmtTime(v.started_at)}</td><td><span class="badge">${v.status}</span></td>
        <td>${esc(v.props.title)}</td><td>${esc(v.props.device_type)}</td><td>${esc(v.props.country)}</td><td>${esc(v.props.cdn)}</td>
        <td class="num">${fmtSeconds(v.metrics.video_startup_time_ms)}</td><td class="num">${fmtPct(v.metrics.rebuffer_percentage)}</td>
        <td>${outcome(v)}</td></tr>`).join('')}</tbody></table>`;
    document.querySelectorAll('tr[data-id]').forEach((tr) => { tr.onclick = () => { location.hash = `#/views/${tr.dataset.id}`; }; });
  };
  await render();
  refreshTimer = setInterval(() => render().catch(showError), 10000);
}
function outcome(v) {
  const m = v.metrics;
  if (m.startup_failure) return '<span class="badge bad">failed to start</span>';
  if (m.playback_failure) return '<span class="badge bad">failed</span>';
  if (m.exit_before_video_start) return '<span class="badge bad">left before start</span>';
  if (m.started) return '<span class="badge good">played</span>';
  return '<span class="badge">starting</span>';
}

// ---- one view ---------------------------------------------------------------------------------
async function view(id) {
  const [v, { events }] = await Promise.all([api(`/v1/views/${encodeURIComponent(id)}`), api(`/v1/views/${encodeURIComponent(id)}/events`)]);
  const { metrics: catalogue } = await api('/v1/metrics');
  const first = events.length ? events[0].ts : 0;
  const rel = (ts) => `+${((ts - first) / 1000).toFixed(2)} s`;
  const detail = (e) => Object.entries(e).filter(([k]) => !['seq', 'ts', 'type', 'at'].includes(k)).map(([k, val]) => `${esc(k)}=${esc(typeof val === 'object' ? JSON.stringify(val) : val)}`).join('  ');
  page.innerHTML = `<h1>View ${esc(v.id)}</h1><p class="lede">${esc(v.props.title ?? '')} · ${esc(v.status)}${v.end_reason ? ` (${esc(v.end_reason)})` : ''} · started ${fmtTime(v.started_at)} · ${outcome(v)}</p>
    <div class="grid2">
      <section class="card"><h2>Metrics</h2><dl>${catalogue.map((m) => `<dt>${m.name}</dt><dd>${m.kind === 'rate' ? (v.metrics[m.name] === null ? dash : v.metrics[m.name] ? 'yes' : 'no') : fmtUnit(m.unit, v.metrics[m.name])}</dd>`).join('')}</dl></section>
      <section class="card"><h2>Bitrate played</h2><div class="chart" id="bitrate"></div><h2 style="margin-top:14px">Properties</h2>
        <dl>${Object.entries(v.props).map(([k, val]) => `<dt>${esc(k)}</dt><dd>${esc(val)}</dd>`).join('')}<dt>viewer_id</dt><dd>${esc(v.viewer_id)}</dd></dl></section>
    </div>
    <section class="card" style="margin-top:16px"><h2>Quality per second (ITU-T P.1203)</h2>
      <p class="lede">${v.p1203.o46 === null ? `No P.1203 score: ${esc(v.p1203.note)}` : `MOS ${v.p1203.o46.toFixed(2)} of 5 · stalling ${v.p1203.o23.toFixed(2)} · without stalls ${v.p1203.o35.toFixed(2)}${v.p1203.note ? ` · ${esc(v.p1203.note)}` : ''}`}</p>
      <div class="chart" id="p1203"></div></section>
    ${v.requests.length === 0 ? '' : `<section class="card" style="margin-top:16px"><h2>Requests per host (CMCD)</h2>
      <table><thead><tr><th>host</th><th class="num">requests</th><th class="num">failed</th><th class="num">TTFB p50</th><th class="num">TTFB p95</th><th class="num">TTLB p50</th><th class="num">TTLB p95</th><th>CMSD</th></tr></thead><tbody>
      ${v.requests.map((r) => `<tr><td>${esc(r.host)}</td><td class="num">${fmtCount(r.requests)}</td><td class="num">${fmtCount(r.failed)}</td>
        <td class="num">${fmtSeconds(r.ttfb_ms?.p50)}</td><td class="num">${fmtSeconds(r.ttfb_ms?.p95)}</td><td class="num">${fmtSeconds(r.ttlb_ms?.p50)}</td><td class="num">${fmtSeconds(r.ttlb_ms?.p95)}</td>
        <td>${esc([r.cmsd_static && JSON.stringify(r.cmsd_static), r.cmsd_dynamic && JSON.stringify(r.cmsd_dynamic)].filter(Boolean).join(' '))}</td></tr>`).join('')}</tbody></table></section>`}
    <section class="card" style="margin-top:16px"><h2>Timeline (${events.length} events)</h2>
      <table class="timeline"><thead><tr><th>time</th><th>seq</th><th>event</th><th>details</th></tr></thead><tbody>
      ${events.map((e) => `<tr><td>${rel(e.ts)}</td><td>${e.seq}</td><td>${esc(e.type)}</td><td>${detail(e)}</td></tr>`).join('')}</tbody></table></section>`;
  const switches = events.filter((e) => e.type === 'rendition_change');
  const last = events.length ? events[events.length - 1].ts : first;
  const xs = [...switches.map((e) => e.ts / 1000), last / 1000];
  const ys = [...switches.map((e) => e.bitrate_bps), switches.length ? switches[switches.length - 1].bitrate_bps : null];
  destroyCharts();
  lineChart(document.getElementById('bitrate'), switches.length ? xs : [], [{ label: 'bitrate', values: ys }], fmtBps);
  // O22: video quality of each media second played, 1–5.
  const o22 = v.p1203.o22;
  lineChart(document.getElementById('p1203'), o22.map((_, i) => i + 1), [{ label: 'video MOS (O22)', values: o22 }], (x) => x.toFixed(1), false);
}

// ---- routing ----------------------------------------------------------------------------------
function showError(e) {
  page.insertAdjacentHTML('afterbegin', `<p class="error">Could not load data: ${esc(e.message)}</p>`);
}
async function route() {
  clearInterval(refreshTimer);
  destroyCharts();
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query ?? '');
  const name = path.startsWith('/views/') ? 'view' : path === '/breakdown' ? 'breakdown' : path === '/views' ? 'views' : 'overview';
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name || (name === 'view' && a.dataset.page === 'views')));
  try {
    if (name === 'view') await view(decodeURIComponent(path.slice('/views/'.length)));
    else if (name === 'breakdown') await breakdown(params);
    else if (name === 'views') await views(params);
    else await overview();
  } catch (e) {
    showError(e);
  }
}
window.addEventListener('hashchange', route);
rangeSelect.addEventListener('change', route);
route();
