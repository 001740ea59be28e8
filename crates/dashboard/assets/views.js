// Views: the most recent play attempts matching a filter, each leading to its timeline.
import { api, timeRange } from './api.js';
import { esc, fmtPct, fmtSeconds, fmtTime } from './format.js';
import { page, refreshEvery } from './page.js';

export async function views(params) {
  const filter = params.get('filter') ?? '';
  page.innerHTML = `<h1>Views</h1><p class="lede">The most recent play attempts. Click one to see what happened, event by event.</p>
    <div class="controls"><label>Filter <input id="filter" placeholder="country:DE" value="${esc(filter)}"></label></div><div id="table"></div>`;
  document.getElementById('filter').onchange = (e) => { location.hash = `#/views?filter=${encodeURIComponent(e.target.value)}`; };
  const render = async () => {
    const w = timeRange();
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
  refreshEvery(10000, render);
}
// How a view went, as a badge.
export function outcome(v) {
  const m = v.metrics;
  if (m.startup_failure) return '<span class="badge bad">failed to start</span>';
  if (m.playback_failure) return '<span class="badge bad">failed</span>';
  if (m.exit_before_video_start) return '<span class="badge bad">left before start</span>';
  if (m.started) return '<span class="badge good">played</span>';
  return '<span class="badge">starting</span>';
}
