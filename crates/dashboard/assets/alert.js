// One alert: what is wrong and since when, its likely cause, its history and the notifications sent.
import { api } from './api.js';
import { dash, esc, fmtCount, fmtDuration, fmtElement, fmtPct, fmtTime, fmtUnit } from './format.js';
import { page } from './page.js';
import { WATCHED, alertBadges, chips, runbookLink } from './alerts.js';

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

export async function alertDetail(id) {
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
