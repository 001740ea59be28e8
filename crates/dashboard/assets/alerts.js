// Alerts: the list, firing first, what alerting watches, and the words, badges and banner the
// other alert views share.
import { api } from './api.js';
import { esc, fmtClock, fmtCount, fmtDuration, fmtElement } from './format.js';
import { page, refreshEvery } from './page.js';

export const WATCHED = {
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
export const runbookLink = (a) => (safeUrl(a.runbook_url) ? `<a href="${esc(a.runbook_url)}" target="_blank" rel="noopener">runbook</a>` : '');
export const chips = (elements) => elements.map((el) => `<span class="chip">${esc(fmtElement(el))}</span>`).join(' ');
export const alertBadges = (a) => `<span class="badge ${a.status === 'firing' ? 'bad' : ''}">${esc(a.status)}</span>
  <span class="badge ${a.severity === 'critical' ? 'bad' : 'warn'}">${esc(a.severity)}</span>`;
// `judged` is how far the server has judged: a firing alert lasts at least until then.
function alertTimes(a, judged) {
  const end = a.resolved_at ?? judged ?? Date.now();
  return `started ${fmtClock(a.started_at)} · fired ${fmtClock(a.fired_at)}${a.resolved_at ? ` · resolved ${fmtClock(a.resolved_at)}` : ''}
    · ${a.resolved_at ? 'lasted' : 'going on for'} ${fmtDuration(end - a.started_at)}`;
}
// The overview's warning while alerts fire.
export function alertBanner(firing) {
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

export async function alertList() {
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
  refreshEvery(10000, render);
}
