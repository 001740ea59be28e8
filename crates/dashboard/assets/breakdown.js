// Breakdown: one metric per value of one dimension (the experience score with the points each part
// costs), each row leading to its views, and "Why?": the cause of the last 15 minutes' excess.
import { api, timeRange } from './api.js';
import { esc, fmtCount, fmtElement, fmtPct, fmtUnit } from './format.js';
import { page, refreshEvery } from './page.js';

export async function breakdown(params) {
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
    const w = timeRange();
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
  refreshEvery(10000, render);
}
