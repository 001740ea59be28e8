// One view: its metrics and properties, the bitrate it played, its P.1203 quality per second, its
// requests per host (CMCD) and its timeline, event by event.
import { api } from './api.js';
import { destroyCharts, lineChart } from './charts.js';
import { dash, esc, fmtBps, fmtCount, fmtSeconds, fmtTime, fmtUnit } from './format.js';
import { page } from './page.js';
import { outcome } from './views.js';

export async function view(id) {
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

