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
const fmtClock = (ms) => (isNum(ms) ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : dash);
function fmtDuration(ms) {
  if (!isNum(ms) || ms < 0) return dash;
  const minutes = Math.round(ms / 60000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
// A group of viewers, `{cdn: 'cdn-b', country: 'DE'}` → "cdn=cdn-b & country=DE"; `{}` is everyone.
const fmtElement = (el) => Object.entries(el ?? {}).map(([d, v]) => `${d}=${v}`).join(' & ') || 'all views';
function fmtUnit(unit, v) {
  if (unit === 'score') return v === null || v === undefined ? dash : Number(v).toFixed(1);
  if (unit === 'mos') return v === null || v === undefined ? dash : Number(v).toFixed(2);
  if (unit === 'ms') return fmtSeconds(v);
  if (unit === 'percent' || unit === '%') return fmtPct(v);
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
  page.innerHTML = `<div id="alert-banner"></div><h1>How viewers are doing</h1><p class="lede">Key experience numbers for the selected time range, with their trend per interval.
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
    // Last, so a slow alert list never holds the numbers back.
    const { alerts: firing } = await api('/v1/alerts', { status: 'firing' });
    const steer = await steeringBanner().catch(() => '');
    const banner = document.getElementById('alert-banner');
    if (banner) banner.innerHTML = alertBanner(firing) + steer;
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
        ${r.causes.map((c) => `<tr><td>${esc(fmtElement(c.element))}</td><td class="num">${fmtPct(c.explanatory_power * 100)}</td><td class="num">${fmtPct(c.rate_inside * 100)}</td><td class="num">${fmtPct(c.rate_outside * 100)}</td><td class="num">${fmtPct(c.baseline_rate_inside * 100)}</td><td class="num">${fmtCount(Math.round(c.excess))}</td></tr>`).join('')}</tbody></table>`}`;
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

// ---- alerts -----------------------------------------------------------------------------------
const WATCHED = {
  startup_failure: 'videos failing to start', exit_before_video_start: 'viewers leaving before the video starts',
  playback_failure: 'playback failures', rebuffer_percentage: 'rebuffering', video_startup_time_p95: 'slow video starts',
  avg_bitrate_bps: 'picture quality (bitrate)',
};
const ALERTS_HELP = `How alerts work: every minute, each number is compared with its normal level for that time of day,
  for all viewers and for each group of them (one CDN, one country, one device type…). An alert fires only when enough
  viewers are affected and the problem lasts for several minutes, so a single bad minute or a handful of viewers does not
  page anyone. It resolves after some quiet minutes. The likely cause is the smallest group of viewers (for example one
  CDN in one country) that explains most of the extra problems.`;
const safeUrl = (url) => (/^https?:\/\//i.test(url ?? '') ? url : null);
const runbookLink = (a) => (safeUrl(a.runbook_url) ? `<a href="${esc(a.runbook_url)}" target="_blank" rel="noopener">runbook</a>` : '');
const chips = (elements) => elements.map((el) => `<span class="chip">${esc(fmtElement(el))}</span>`).join(' ');
const alertBadges = (a) => `<span class="badge ${a.status === 'firing' ? 'bad' : ''}">${esc(a.status)}</span>
  <span class="badge ${a.severity === 'critical' ? 'bad' : 'warn'}">${esc(a.severity)}</span>`;
// `judged` is how far the server has judged: a firing alert lasts at least until then.
function alertTimes(a, judged) {
  const end = a.resolved_at ?? judged ?? Date.now();
  return `started ${fmtClock(a.started_at)} · fired ${fmtClock(a.fired_at)}${a.resolved_at ? ` · resolved ${fmtClock(a.resolved_at)}` : ''}
    · ${a.resolved_at ? 'lasted' : 'going on for'} ${fmtDuration(end - a.started_at)}`;
}
function alertBanner(firing) {
  if (firing.length === 0) return '';
  return `<a class="banner" href="#/alerts">⚠ ${firing.length} alert${firing.length === 1 ? '' : 's'} firing: ${esc(firing[0].summary)}</a>`;
}
function watchedSentence(data) {
  if (!data.enabled) return 'Alerting is switched off in this server\u2019s settings.';
  const metrics = [...new Set(data.rules.map((r) => WATCHED[r.metric] ?? r.metric.replace(/_/g, ' ')))];
  const through = data.judged_through === null ? 'no minute has been judged yet' : `judged through ${fmtClock(data.judged_through)}`;
  return `Watching ${metrics.join(', ')} (${through}).`;
}
function alertRow(a, judged) {
  return `<li class="alert-row link" data-id="${esc(a.id)}"><div>${alertBadges(a)} <span class="summary">${esc(a.summary)}</span></div>
    <div class="meta">${alertTimes(a, judged)} · about <strong title="Views hit beyond normal (view-minutes for rebuffering and bitrate)">${fmtCount(Math.round(a.affected_views))}</strong> affected views
      ${a.causes.length ? ` · likely cause ${chips(a.causes.slice(0, 3).map((c) => c.element))}` : ''} ${runbookLink(a)}</div></li>`;
}

async function alertList() {
  page.innerHTML = `<h1>Alerts</h1><p class="lede" id="alert-status"></p><ul class="alerts" id="alert-list"></ul><p class="help">${ALERTS_HELP}</p>`;
  const render = async () => {
    const data = await api('/v1/alerts');
    const list = document.getElementById('alert-list');
    if (!list) return;
    const alerts = [...data.alerts].sort((a, b) => (b.status === 'firing') - (a.status === 'firing'));
    const firing = alerts.filter((a) => a.status === 'firing').length;
    document.getElementById('alert-status').textContent = `${firing ? `${firing} alert${firing === 1 ? ' is' : 's are'} firing.` : 'Nothing is wrong right now.'} ${watchedSentence(data)}`;
    list.innerHTML = alerts.length === 0 ? '<li class="empty">No alerts so far: every watched number has stayed close to normal.</li>' : alerts.map((a) => alertRow(a, data.judged_through)).join('');
    list.dataset.count = alerts.length;
    list.querySelectorAll('li[data-id]').forEach((li) => { li.onclick = (e) => { if (!e.target.closest('a')) location.hash = `#/alerts/${encodeURIComponent(li.dataset.id)}`; }; });
  };
  await render();
  refreshTimer = setInterval(() => render().catch(showError), 10000);
}

// ---- one alert --------------------------------------------------------------------------------
function causesTable(a) {
  if (a.causes.length === 0) return '<p class="help">No single group of viewers stood out: the problem is spread across everyone watched.</p>';
  return `<table id="causes"><thead><tr><th>where</th><th class="num">share of the excess</th><th class="num">share inside / outside</th><th class="num">normally inside</th><th class="num">excess</th></tr></thead><tbody>
    ${a.causes.map((c) => `<tr><td>${esc(fmtElement(c.element))}</td><td class="num">${fmtPct(c.explanatory_power * 100)}</td>
      <td class="num">${fmtPct(c.rate_inside * 100)} / ${fmtPct(c.rate_outside * 100)}</td><td class="num">${fmtPct(c.baseline_rate_inside * 100)}</td>
      <td class="num">${fmtCount(Math.round(c.excess))}</td></tr>`).join('')}</tbody></table>
    <p class="help">Share of the excess: how much of the extra trouble this group accounts for. Share inside / outside: how often the problem
      hit viewers in this group and everyone else (for rebuffering and bitrate, as a share of their viewing time); normally inside: the usual level
      for this group. Excess: extra affected views beyond normal.</p>`;
}
function deliveriesTable(a) {
  if (a.deliveries.length === 0) return '<p class="help">No notifications were sent for this alert (destinations are set in the server\u2019s alert settings).</p>';
  const outcome = (d) => `<span class="badge ${d.outcome === 'delivered' ? 'good' : d.outcome === 'failed' ? 'bad' : 'warn'}">${esc(d.outcome)}</span>`;
  return `<table><thead><tr><th>when</th><th>destination</th><th>purpose</th><th>notice</th><th class="num">attempt</th><th>outcome</th><th>answer</th></tr></thead><tbody>
    ${a.deliveries.map((d) => `<tr><td>${fmtTime(d.at_ms)}</td><td>${esc(d.destination)}</td><td>${esc(d.purpose)}</td><td>${esc(d.status)}</td>
      <td class="num">${fmtCount(d.attempt)}</td><td>${outcome(d)}</td><td>${esc([d.http_status && `HTTP ${d.http_status}`, d.error].filter(Boolean).join(' · ') || dash)}</td></tr>`).join('')}</tbody></table>`;
}
function historyList(a) {
  if (a.history.length === 0) return '<p class="help">No changes recorded.</p>';
  return `<ol class="history">${a.history.map((h) => `<li><strong>${fmtTime(h.at)}</strong> ${esc(h.change)} (${esc(h.severity)}): ${esc(h.summary)}</li>`).join('')}</ol>`;
}
function viewersLink(a) {
  const [dim, value] = Object.entries(a.causes[0]?.element ?? a.key ?? {})[0] ?? [];
  return dim ? `<a href="#/views?filter=${encodeURIComponent(`${dim}:${value}`)}">see these viewers (${esc(dim)}=${esc(value)})</a>` : '';
}

async function alertDetail(id) {
  const [a, { judged_through: judged }] = await Promise.all([api(`/v1/alerts/${encodeURIComponent(id)}`), api('/v1/alerts', { status: 'firing' })]);
  page.innerHTML = `<h1>${alertBadges(a)} ${esc(WATCHED[a.metric] ? `Alert: ${WATCHED[a.metric]}` : a.rule)}</h1>
    <p class="lede" data-summary>${esc(a.summary)}</p>
    <p class="links">${viewersLink(a)} ${runbookLink(a)} <a href="#/alerts">all alerts</a></p>
    <div class="grid2">
      <section class="card"><h2>What is wrong</h2><dl>
        <dt>${a.status === 'firing' ? 'now' : 'last seen'}</dt><dd><strong>${fmtUnit(a.unit, a.value)}</strong> <span class="help">in the last minute judged while it fired</span></dd>
        <dt>normally</dt><dd>${fmtUnit(a.unit, a.baseline)} <span class="help">usual level for this time of day</span></dd>
        <dt>affected views</dt><dd>about ${fmtCount(Math.round(a.affected_views))} <span class="help">views hit beyond normal so far (view-minutes for rebuffering and bitrate)</span></dd>
        <dt>who</dt><dd>${chips(a.cohorts)} <span class="help">the watched groups where it was noticed</span></dd>
        <dt>severity</dt><dd>${esc(a.severity)} <span class="help">an alert turns critical when it goes on for long</span></dd>
        <dt>rule</dt><dd>${esc(a.rule)} (${esc(a.metric)})${a.reopened ? ` · came back ${fmtCount(Number(a.reopened))}× after resolving` : ''}</dd>
      </dl></section>
      <section class="card"><h2>When</h2><dl>
        <dt>started</dt><dd>${fmtTime(a.started_at)} <span class="help">first unusual minute</span></dd>
        <dt>fired</dt><dd>${fmtTime(a.fired_at)} <span class="help">when it had lasted long enough to alert</span></dd>
        <dt>last change</dt><dd>${fmtTime(a.updated_at)}</dd>
        <dt>resolved</dt><dd>${a.resolved_at ? fmtTime(a.resolved_at) : 'not yet'}</dd>
        <dt>duration</dt><dd>${fmtDuration((a.resolved_at ?? judged ?? Date.now()) - a.started_at)}</dd>
        <dt>notifies</dt><dd>${esc(a.destinations.join(', ') || 'every destination')}${a.action ? ` · action ${esc(a.action)}` : ''}</dd>
      </dl></section>
    </div>
    <section class="card" style="margin-top:16px"><h2>Likely cause</h2>${causesTable(a)}</section>
    <section class="card" style="margin-top:16px"><h2>History</h2>${historyList(a)}</section>
    <section class="card" style="margin-top:16px"><h2>Notifications</h2>${deliveriesTable(a)}</section>`;
}

// ---- CDN steering -----------------------------------------------------------------------------
// The steering server's state (`GET /v1/steer`): whether decisions follow viewers' experience, each
// pathway's health, the cohorts where the order differs, manual overrides and the change log.
const TOKEN_KEY = 'openqoe-steer-token';
let steerAbsent = false; // a 404 from /v1/steer: this server steers nothing until restarted with [steer]
const fmtCohort = (c) => (Object.keys(c ?? {}).length ? fmtElement(c) : 'everyone');
const isEveryone = (c) => Object.keys(c ?? {}).length === 0;
const ordinal = (n) => `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;
const scoreClass = (s) => (!isNum(s) ? 'unknown' : s >= 80 ? 'good' : s >= 60 ? 'warn' : 'bad');
const fmtScore = (s) => (isNum(s) ? Math.round(s).toString() : dash);
const fmtWhen = (ms) => (isNum(ms) ? `${fmtTime(ms)}${Date.now() - ms >= 60000 ? ` (${fmtDuration(Date.now() - ms)} ago)` : ''}` : dash);
const fmtWindow = (seconds) => (isNum(seconds) ? (seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? '' : 's'}` : `${seconds} seconds`) : 'few minutes');
const steerHelp = (ttl, window) => `<p class="help"><strong>How CDN steering works.</strong> Players ask openqoe which CDN to use every ${fmtCount(ttl)} seconds
  (HLS and DASH content steering). openqoe answers with an order of CDNs, best first, chosen for the viewer's group: their country,
  then their internet provider, then their kind of device. It gives every CDN a health score from 0 to 100, built from rebuffering,
  playback failures, startup time and the download speed players report, over the last ${fmtWindow(window)}. When one CDN has been clearly
  worse than another for a group for a while, it is moved down for that group; once it has been healthy again for a while, it is put
  back. A few viewers still get a moved-down CDN first, so its recovery shows. An alert's runbook action can also move a CDN down
  until the alert resolves. A manual override fixes the order for a group yourself. The switch at the top stops automatic decisions:
  players then keep the CDN they are on, then get the default order; manual overrides still apply.</p>`;
const STEER_SETUP = `<h1>CDN steering</h1>
  <p class="lede" id="steer-absent">CDN steering is not set up on this server. To turn it on, add a <code>[steer]</code> section to
    <code>openqoe.toml</code> with one <code>[[steer.pathways]]</code> entry per CDN (at least two; the id is the pathway id your HLS
    <code>PATHWAY-ID</code> or DASH <code>serviceLocation</code> uses), then restart openqoe:</p>
  <pre class="card">[steer]
ttl_seconds = 10          # how often players ask again

[[steer.pathways]]
id = "cdn-a"              # listed first: the default order

[[steer.pathways]]
id = "cdn-b"
cdn = "cdn-b"             # the cdn your views report, when it differs from the id</pre>`;

// Health of one pathway as a compact score whose tooltip lists its parts.
// Points a part took off the score, when the server says.
const lost = (h, part) => (isNum(h?.penalties?.[part]) ? ` \u2192 \u2212${h.penalties[part].toFixed(1)} points` : '');
function healthTitle(pathway, h) {
  if (!h) return `${pathway}: no viewers measured here yet`;
  const best = isNum(h.best_case_score) && isNum(h.score) && h.best_case_score - h.score >= 0.05 ? ` (at best ${h.best_case_score.toFixed(1)}, allowing for bad luck)` : '';
  return [`${pathway}: health ${isNum(h.score) ? `${h.score.toFixed(1)} of 100${best}` : 'not known yet (too few views)'}`,
    `views: ${fmtCount(h.views ?? null)}`, `rebuffering: ${fmtPct(h.rebuffer_pct)} of viewing time${lost(h, 'rebuffer')}`,
    `playback failures: ${fmtPct(h.failure_pct)} of views${lost(h, 'failure')}`, `startup time: ${fmtSeconds(h.startup_ms)}${lost(h, 'startup')}`,
    `download speed: ${fmtBps(h.throughput_bps)} (${fmtCount(h.reports ?? null)} player reports)${lost(h, 'throughput')}`].join('\n');
}
const lostSmall = (h, part) => (isNum(h?.penalties?.[part]) && h.penalties[part] >= 0.05 ? ` <span class="help">\u2212${h.penalties[part].toFixed(1)} pts</span>` : '');
const scoreCell = (pathway, h) => `<span class="score ${scoreClass(h?.score)}" title="${esc(healthTitle(pathway, h))}">${fmtScore(h?.score)}</span>`;
// The order new sessions get, moved-down pathways marked.
function priorityChips(priority, demoted = []) {
  const down = new Set(demoted.map((d) => d.pathway));
  return `<span class="order">${priority.map((p, i) => `<span class="chip${down.has(p) ? ' demoted' : ''}" title="${down.has(p) ? 'moved down' : `${ordinal(i + 1)} choice`}">${i + 1}. ${esc(p)}</span>`).join('<span class="sep">›</span>')}</span>`;
}
const demotedBy = (d) => (d.by === 'action' ? 'by an alert\u2019s runbook action' : d.by === 'policy' ? 'automatically' : `by ${esc(d.by)}`);
function demotedLine(d, c) {
  const elsewhere = d.cohort && fmtCohort(d.cohort) !== fmtCohort(c.cohort) ? ` for ${esc(fmtCohort(d.cohort))}` : '';
  return `<li><strong>${esc(d.pathway)}</strong> moved down${elsewhere} ${demotedBy(d)} since ${fmtWhen(d.since)}${d.expires_at ? `, until ${fmtClock(d.expires_at)} at the latest` : ''}:
    <span class="why">${esc(d.reason || 'no reason given')}</span></li>`;
}
const overrideEnds = (o) => (o.expires_at ? `until ${fmtTime(o.expires_at)}` : 'until removed');
const removeButton = (o) => `<button type="button" class="small" data-remove="${esc(o.id)}" title="Remove this override: the group goes back to the automatic order">Remove</button>`;
const CHANGE_WORDS = {
  demoted: (c) => `${c.pathway} moved down`, restored: (c) => `${c.pathway} put back in its usual place`,
  override_set: () => 'manual order set', override_cleared: () => 'manual order removed', override_expired: () => 'manual order expired',
  disabled: () => 'automatic steering switched off', enabled: () => 'automatic steering switched on',
  action_demoted: (c) => `${c.pathway} moved down by an alert\u2019s runbook action`, action_reverted: (c) => `${c.pathway} put back after the alert\u2019s action ended`,
};
const changeWords = (c) => (CHANGE_WORDS[c.kind] ?? ((x) => `${x.kind.replace(/_/g, ' ')}${x.pathway ? ` (${x.pathway})` : ''}`))(c);
const changeBadge = (kind) => (['demoted', 'action_demoted', 'disabled'].includes(kind) ? 'bad' : ['restored', 'action_reverted', 'enabled'].includes(kind) ? 'good' : 'warn');

// Changes are sent with the admin token, if this server asks for one; a refusal shows its reason.
async function steerSend(method, path, body, messageEl) {
  const headers = { 'content-type': 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  if (response.status === 401 || response.status === 403) {
    document.getElementById('steer-token')?.removeAttribute('hidden');
    messageEl.innerHTML = `<span class="error">This server asks for its admin token before changing steering${token ? ' and did not accept the one given' : ''}: enter it under \u201cAdmin token\u201d below, then try again.</span>`;
  } else {
    messageEl.innerHTML = `<span class="error">Not done: ${esc(answer.error ?? `the server answered ${response.status}`)}</span>`;
  }
  return null;
}

async function steering() {
  const root = document.createElement('div');
  root.id = 'steering';
  page.innerHTML = '';
  page.append(root);
  let data = null;
  let formReady = false;
  let showAll = false; // the other groups' table shows its first OTHERS_SHOWN rows until asked for all
  const OTHERS_SHOWN = 20;
  const load = async () => {
    const response = await fetch('/v1/steer');
    if (response.status === 404) return null;
    if (!response.ok) throw new Error(`/v1/steer: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
    return response.json();
  };
  const skeleton = () => `<h1>CDN steering</h1><p class="lede">Which CDN each new viewer is sent to, and why. Updates every 5 s.</p>
    <section class="card steer-status" id="steer-status"><div class="status-line"><span class="dot"></span><strong id="steer-state"></strong></div>
      <p id="steer-state-help" class="help"></p>
      <div class="actions"><button type="button" id="steer-toggle"></button></div>
      <form id="steer-confirm" class="confirm" hidden>
        <p id="steer-confirm-text"></p>
        <label>Why? <input id="steer-reason" required size="48" placeholder="e.g. steering looks wrong, investigating"></label>
        <button type="submit" id="steer-confirm-yes"></button> <button type="button" id="steer-confirm-no">Cancel</button>
        <span id="steer-toggle-message"></span>
      </form></section>
    <h2 class="section">CDNs for everyone</h2><p class="help" id="steer-pathways-note"></p><div class="tiles" id="steer-pathways"></div>
    <h2 class="section">Groups with a CDN moved down or a manual order</h2><ul class="alerts" id="steer-attention"></ul>
    <h2 class="section">All other groups of viewers</h2>
    <div class="controls"><label>Find a group <input id="steer-find" placeholder="e.g. DE"></label><span class="help" id="steer-others-count"></span></div>
    <div id="steer-others"></div>
    <h2 class="section">Manual overrides</h2><div id="steer-overrides"></div>
    <form class="card" id="override-form"></form>
    <h2 class="section">What changed</h2><div id="steer-changes"></div>
    <div id="steer-help"></div>
    <section class="card" id="steer-token" hidden><h2>Admin token</h2>
      <p class="help">This server asks for the token in its <code>steer.admin_token</code> setting before any change. It is kept in this tab only.</p>
      <input id="steer-token-value" type="password" size="40" autocomplete="off"> <button type="button" id="steer-token-save">Use this token</button></section>`;

  const renderStatus = () => {
    const on = data.enabled;
    const status = document.getElementById('steer-status');
    status.classList.toggle('on', on);
    status.classList.toggle('off', !on);
    const defaultOrder = data.pathways.map((p) => p.id).join(', ');
    document.getElementById('steer-state').textContent = on ? 'Automatic steering is on' : 'Automatic steering is off';
    document.getElementById('steer-state-help').innerHTML = `${on
      ? 'New viewers are sent first to the CDN that currently works best for viewers like them.'
      : `Players keep the CDN they are on, then get the default order (${esc(defaultOrder)}), whatever viewers experience; manual overrides still apply.`}
      Players ask again every ${fmtCount(data.ttl_seconds)} s; last decided at ${fmtTime(data.evaluated_at)}.
      ${fmtCount(data.polls?.hls ?? 0)} HLS and ${fmtCount(data.polls?.dash ?? 0)} DASH requests from players so far${data.polls?.rejected ? `, ${fmtCount(data.polls.rejected)} unreadable ones refused` : ''}.`;
    const toggle = document.getElementById('steer-toggle');
    toggle.textContent = on ? 'Turn off automatic steering\u2026' : 'Turn automatic steering back on\u2026';
    toggle.className = on ? 'danger' : 'primary';
    toggle.dataset.enabled = on;
  };

  const renderPathways = () => {
    const everyone = data.cohorts.find((c) => isEveryone(c.cohort)) ?? { priority: data.pathways.map((p) => p.id), health: [], demoted: [] };
    const measured = everyone.health.some((h) => isNum(h.score));
    document.getElementById('steer-pathways-note').textContent = `${measured ? 'Health' : 'No CDN has enough viewers yet to judge its health'} over the last ${fmtWindow(data.window_seconds)}, all viewers together; hover a score for what it is made of.`;
    document.getElementById('steer-pathways').innerHTML = data.pathways.map((p) => {
      const h = everyone.health.find((x) => x.pathway === p.id);
      const place = everyone.priority.indexOf(p.id);
      const down = everyone.demoted.find((d) => d.pathway === p.id);
      return `<section class="tile pathway" data-pathway="${esc(p.id)}"><h2>${esc(p.id)}${p.cdn && p.cdn !== p.id ? ` <small>(CDN ${esc(p.cdn)})</small>` : ''}</h2>
        <div class="value"><span class="score-big ${scoreClass(h?.score)}" data-score title="${esc(healthTitle(p.id, h))}">${fmtScore(h?.score)}</span><small>health of 100</small></div>
        <p class="help">${place >= 0 ? `<strong>${ordinal(place + 1)} choice</strong> for new viewers` : 'not offered'}${down ? ` · <span class="badge bad">moved down</span> ${esc(down.reason)}` : ''}</p>
        <dl><dt>views</dt><dd>${fmtCount(h?.views ?? null)}</dd><dt>rebuffering</dt><dd>${fmtPct(h?.rebuffer_pct)}${lostSmall(h, 'rebuffer')}</dd>
          <dt>playback failures</dt><dd>${fmtPct(h?.failure_pct)}${lostSmall(h, 'failure')}</dd><dt>startup time</dt><dd>${fmtSeconds(h?.startup_ms)}${lostSmall(h, 'startup')}</dd>
          <dt>download speed</dt><dd>${fmtBps(h?.throughput_bps)}${lostSmall(h, 'throughput')} <span class="help">${fmtCount(h?.reports ?? null)} player reports</span></dd></dl></section>`;
    }).join('');
  };

  // A demotion or override shows on every finer group it applies to; each is highlighted where it was made.
  const sameCohort = (a, b) => fmtCohort(a) === fmtCohort(b);
  const madeHere = (c, x) => !x.cohort || sameCohort(x.cohort, c.cohort) || !data.cohorts.some((o) => sameCohort(o.cohort, x.cohort));
  const inheritedNote = (c) => {
    const from = [...c.demoted.filter((d) => !madeHere(c, d)).map((d) => `${d.pathway} moved down for ${fmtCohort(d.cohort)}`),
      ...(c.override && !madeHere(c, c.override) ? [`manual order of ${fmtCohort(c.override.cohort)}`] : [])];
    return from.length ? `<span class="help">as ${esc(from.join('; '))}</span>` : '';
  };
  const healthRow = (c) => data.pathways.map((p) => `<span class="pair">${esc(p.id)} ${scoreCell(p.id, c.health.find((x) => x.pathway === p.id))}</span>`).join(' ');
  const renderCohorts = () => {
    const special = (c) => c.demoted.some((d) => madeHere(c, d)) || (c.override && madeHere(c, c.override));
    const byCoarseness = (a, b) => Object.keys(a.cohort).length - Object.keys(b.cohort).length || fmtCohort(a.cohort).localeCompare(fmtCohort(b.cohort));
    const attention = data.cohorts.filter(special).sort(byCoarseness);
    const list = document.getElementById('steer-attention');
    list.innerHTML = attention.length === 0
      ? `<li class="empty">Nowhere: every group of viewers gets the ${data.enabled ? 'usual' : 'default'} order, and there is no manual override.</li>`
      : attention.map((c) => `<li class="alert-row steer-cohort" data-cohort="${esc(fmtCohort(c.cohort))}">
        <div><strong>${esc(fmtCohort(c.cohort))}</strong> ${c.override ? '<span class="badge warn">manual order</span>' : ''}
          ${c.demoted.length ? `<span class="badge bad">${c.demoted.length} CDN${c.demoted.length === 1 ? '' : 's'} moved down</span>` : ''}
          · new viewers get ${priorityChips(c.priority, c.demoted)}</div>
        <ul class="reasons">${c.demoted.map((d) => demotedLine(d, c)).join('')}
          ${c.override ? `<li>Manual order set ${fmtWhen(c.override.created_at)}, ${overrideEnds(c.override)}: <span class="why">${esc(c.override.reason || 'no reason given')}</span> ${removeButton(c.override)}</li>` : ''}</ul>
        <div class="meta">health here: ${healthRow(c)}</div></li>`).join('');
    const find = document.getElementById('steer-find').value.trim().toLowerCase();
    const viewers = (c) => c.health.reduce((sum, h) => sum + (h.views ?? 0), 0);
    const others = data.cohorts.filter((c) => !special(c) && !isEveryone(c.cohort)).sort((a, b) => viewers(b) - viewers(a) || byCoarseness(a, b));
    const matching = others.filter((c) => !find || fmtCohort(c.cohort).toLowerCase().includes(find));
    const shown = showAll ? matching : matching.slice(0, OTHERS_SHOWN);
    document.getElementById('steer-others-count').innerHTML = `${fmtCount(shown.length)} of ${fmtCount(others.length)} groups, most viewers first${matching.length > shown.length
      ? ` <button type="button" class="small" id="steer-show-all">show all ${fmtCount(matching.length)}</button>` : ''}; hover a score for what it is made of.`;
    const more = document.getElementById('steer-show-all');
    if (more) more.onclick = () => { showAll = true; renderCohorts(); };
    document.getElementById('steer-others').innerHTML = shown.length === 0
      ? `<div class="empty">${others.length ? 'No group matches' : 'No other group of viewers has been seen yet'}</div>`
      : `<table id="steer-others-table"><thead><tr><th>group of viewers</th><th>order new viewers get</th>${data.pathways.map((p) => `<th class="num">${esc(p.id)} health</th>`).join('')}</tr></thead><tbody>
        ${shown.map((c) => `<tr data-cohort="${esc(fmtCohort(c.cohort))}"><td>${esc(fmtCohort(c.cohort))}</td><td>${priorityChips(c.priority, c.demoted)} ${inheritedNote(c)}</td>
          ${data.pathways.map((p) => `<td class="num">${scoreCell(p.id, c.health.find((x) => x.pathway === p.id))}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  };

  const renderOverrides = () => {
    document.getElementById('steer-overrides').innerHTML = data.overrides.length === 0
      ? '<p class="help">No manual overrides: every group gets the order steering chooses.</p>'
      : `<table id="override-table"><thead><tr><th>group of viewers</th><th>order</th><th>why</th><th>set</th><th>ends</th><th></th></tr></thead><tbody>
        ${data.overrides.map((o) => `<tr data-id="${esc(o.id)}"><td>${esc(fmtCohort(o.cohort))}</td><td>${priorityChips(o.priority)}</td><td class="wrap">${esc(o.reason || dash)}</td>
          <td>${fmtTime(o.created_at)}</td><td>${overrideEnds(o)}</td><td>${removeButton(o)}</td></tr>`).join('')}</tbody></table>`;
    // The values seen so far, offered as suggestions in the form.
    for (const dim of data.cohort_dimensions) {
      const list = document.getElementById(`steer-values-${dim}`);
      const values = [...new Set(data.cohorts.map((c) => c.cohort[dim]).filter((v) => v !== undefined))].sort();
      if (list) list.innerHTML = values.map((v) => `<option value="${esc(v)}">`).join('');
    }
  };

  const renderChanges = () => {
    const shown = data.changes.slice(0, 100);
    document.getElementById('steer-changes').innerHTML = shown.length === 0 ? '<p class="help">Nothing has changed since the server started.</p>'
      : `<table id="change-table"><thead><tr><th>when</th><th>group of viewers</th><th>what changed</th><th>why</th><th>order since</th></tr></thead><tbody>
        ${shown.map((c) => `<tr data-kind="${esc(c.kind)}"><td>${fmtTime(c.at)}</td><td>${esc(fmtCohort(c.cohort))}</td>
          <td><span class="badge ${changeBadge(c.kind)}">${esc(changeWords(c))}</span></td><td class="wrap">${esc(c.reason || dash)}</td>
          <td>${c.priority?.length ? priorityChips(c.priority) : dash}</td></tr>`).join('')}</tbody></table>
        ${data.changes.length > shown.length ? `<p class="help">The ${fmtCount(shown.length)} most recent of ${fmtCount(data.changes.length)} changes.</p>` : ''}`;
  };

  // The form is drawn once (a refresh must not wipe what is being typed).
  const buildForm = () => {
    const form = document.getElementById('override-form');
    form.innerHTML = `<h2>Add an override</h2>
      <p class="help">Fix the order of CDNs for one group of viewers, whatever steering would choose (for example during a CDN\u2019s maintenance).
        Leave a field empty to mean any; all empty means everyone. When several overrides match a viewer, the most specific one wins.</p>
      <div class="controls">${data.cohort_dimensions.map((d) => `<label>${esc(d.replace(/_/g, ' '))} <input name="dim" data-dim="${esc(d)}" list="steer-values-${esc(d)}" placeholder="any" size="12"><datalist id="steer-values-${esc(d)}"></datalist></label>`).join('')}</div>
      <div class="order-pick"><span class="help">Order, first choice at the top (untick a CDN to leave it out):</span>
        <ol id="override-order">${data.pathways.map((p) => `<li data-pathway="${esc(p.id)}"><label><input type="checkbox" checked> ${esc(p.id)}</label>
          <button type="button" class="small" data-move="-1" aria-label="move ${esc(p.id)} up">↑</button><button type="button" class="small" data-move="1" aria-label="move ${esc(p.id)} down">↓</button></li>`).join('')}</ol></div>
      <div class="controls"><label>For how long <select id="override-expiry"><option value="">until removed</option><option value="900">15 minutes</option>
          <option value="3600">1 hour</option><option value="14400">4 hours</option><option value="86400">1 day</option><option value="604800">1 week</option></select></label>
        <label>Why? <input id="override-reason" required size="40" placeholder="e.g. cdn-b maintenance tonight"></label>
        <button type="submit" class="primary" id="override-add">Add override</button> <span id="override-message"></span></div>`;
    const order = document.getElementById('override-order');
    order.onclick = (e) => {
      const button = e.target.closest('button[data-move]');
      if (!button) return;
      const li = button.closest('li');
      if (button.dataset.move === '-1' && li.previousElementSibling) order.insertBefore(li, li.previousElementSibling);
      if (button.dataset.move === '1' && li.nextElementSibling) order.insertBefore(li.nextElementSibling, li);
      button.focus();
    };
    form.onsubmit = async (e) => {
      e.preventDefault();
      const message = document.getElementById('override-message');
      const cohort = {};
      form.querySelectorAll('input[data-dim]').forEach((input) => { if (input.value.trim()) cohort[input.dataset.dim] = input.value.trim(); });
      const priority = [...order.querySelectorAll('li')].filter((li) => li.querySelector('input').checked).map((li) => li.dataset.pathway);
      const expiry = document.getElementById('override-expiry').value;
      const request = { cohort, priority, reason: document.getElementById('override-reason').value.trim() };
      if (expiry) request.expires_in_s = Number(expiry);
      message.textContent = 'Adding\u2026';
      const added = await steerSend('POST', '/v1/steer/overrides', request, message);
      if (!added) return;
      message.innerHTML = `<span class="ok">Added: ${esc(fmtCohort(cohort))} now gets ${esc(priority.join(', '))}.</span>`;
      document.getElementById('override-reason').value = '';
      await render();
    };
    formReady = true;
  };

  const wire = () => {
    const confirm = document.getElementById('steer-confirm');
    document.getElementById('steer-toggle').onclick = () => {
      const turningOff = data.enabled;
      document.getElementById('steer-confirm-text').textContent = turningOff
        ? `Turn off automatic steering? Until it is turned back on, players keep the CDN they are on and then get the default order (${data.pathways.map((p) => p.id).join(', ')}), instead of the CDN that works best for them. CDNs moved down by steering are put back; manual overrides still apply.`
        : 'Turn automatic steering back on? New viewers will again be sent to the CDN that works best for viewers like them.';
      document.getElementById('steer-confirm-yes').textContent = turningOff ? 'Yes, turn it off' : 'Yes, turn it on';
      document.getElementById('steer-confirm-yes').className = turningOff ? 'danger' : 'primary';
      document.getElementById('steer-toggle-message').textContent = '';
      confirm.dataset.enable = String(!turningOff);
      confirm.hidden = false;
      document.getElementById('steer-reason').focus();
    };
    document.getElementById('steer-confirm-no').onclick = () => { confirm.hidden = true; };
    confirm.onsubmit = async (e) => {
      e.preventDefault();
      const done = await steerSend('PUT', '/v1/steer/enabled', { enabled: confirm.dataset.enable === 'true', reason: document.getElementById('steer-reason').value.trim() },
        document.getElementById('steer-toggle-message'));
      if (!done) return;
      confirm.hidden = true;
      document.getElementById('steer-reason').value = '';
      await render();
    };
    document.getElementById('steer-find').oninput = () => renderCohorts();
    document.getElementById('steer-token-save').onclick = () => {
      const token = document.getElementById('steer-token-value').value.trim();
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      document.getElementById('steer-token').hidden = true;
    };
  };

  // Remove buttons, in the override list and in the cohorts' cards alike.
  root.addEventListener('click', async (e) => {
    const button = e.target.closest('button[data-remove]');
    if (!button) return;
    const message = document.getElementById('override-message');
    button.disabled = true;
    const removed = await steerSend('DELETE', `/v1/steer/overrides/${encodeURIComponent(button.dataset.remove)}`, undefined, message);
    if (removed) message.innerHTML = '<span class="ok">Override removed.</span>';
    button.disabled = false;
    await render();
  });

  const render = async () => {
    const next = await load();
    if (!root.isConnected) return;
    if (next === null) {
      steerAbsent = true;
      root.innerHTML = STEER_SETUP;
      formReady = false;
      return;
    }
    steerAbsent = false;
    const first = data === null || !document.getElementById('steer-status');
    data = next;
    if (first) {
      root.innerHTML = skeleton();
      wire();
      buildForm();
    }
    if (!formReady) buildForm();
    renderStatus();
    renderPathways();
    renderCohorts();
    renderOverrides();
    renderChanges();
    document.getElementById('steer-help').innerHTML = steerHelp(data.ttl_seconds, data.window_seconds);
    root.dataset.loaded = data.evaluated_at ?? '';
  };
  await render();
  refreshTimer = setInterval(() => render().catch(showError), 5000);
}

// Overview: a plain warning while someone has switched automatic steering off.
async function steeringBanner() {
  if (steerAbsent) return '';
  const response = await fetch('/v1/steer');
  if (response.status === 404) { steerAbsent = true; return ''; }
  if (!response.ok) return '';
  const data = await response.json();
  return data.enabled ? '' : '<a class="banner" href="#/steering">Automatic CDN steering is switched off: players get the default CDN order.</a>';
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
  const name = path.startsWith('/views/') ? 'view' : path.startsWith('/alerts/') ? 'alert'
    : ['/breakdown', '/views', '/alerts', '/steering'].includes(path) ? path.slice(1) : 'overview';
  // One view and one alert light up their list's nav entry.
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name || a.dataset.page === `${name}s`));
  try {
    if (name === 'view') await view(decodeURIComponent(path.slice('/views/'.length)));
    else if (name === 'alert') await alertDetail(decodeURIComponent(path.slice('/alerts/'.length)));
    else if (name === 'alerts') await alertList();
    else if (name === 'steering') await steering();
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
