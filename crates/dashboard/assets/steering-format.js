// How steering's state reads: groups of viewers (cohorts), pathway health scores with what they are
// made of, priority orders, demotions, overrides and the change log's entries.
import { dash, esc, fmtBps, fmtClock, fmtCount, fmtDuration, fmtElement, fmtPct, fmtSeconds, fmtTime, isNum } from './format.js';

export const fmtCohort = (c) => (Object.keys(c ?? {}).length ? fmtElement(c) : 'everyone');
export const isEveryone = (c) => Object.keys(c ?? {}).length === 0;
export const ordinal = (n) => `${n}${n % 10 === 1 && n % 100 !== 11 ? 'st' : n % 10 === 2 && n % 100 !== 12 ? 'nd' : n % 10 === 3 && n % 100 !== 13 ? 'rd' : 'th'}`;
export const scoreClass = (s) => (!isNum(s) ? 'unknown' : s >= 80 ? 'good' : s >= 60 ? 'warn' : 'bad');
export const fmtScore = (s) => (isNum(s) ? Math.round(s).toString() : dash);
export const fmtWhen = (ms) => (isNum(ms) ? `${fmtTime(ms)}${Date.now() - ms >= 60000 ? ` (${fmtDuration(Date.now() - ms)} ago)` : ''}` : dash);
export const fmtWindow = (seconds) => (isNum(seconds) ? (seconds % 60 === 0 ? `${seconds / 60} minute${seconds === 60 ? '' : 's'}` : `${seconds} seconds`) : 'few minutes');

// Health of one pathway as a compact score whose tooltip lists its parts.
// Points a part took off the score, when the server says.
const lost = (h, part) => (isNum(h?.penalties?.[part]) ? ` \u2192 \u2212${h.penalties[part].toFixed(1)} points` : '');
export function healthTitle(pathway, h) {
  if (!h) return `${pathway}: no viewers measured here yet`;
  const best = isNum(h.best_case_score) && isNum(h.score) && h.best_case_score - h.score >= 0.05 ? ` (at best ${h.best_case_score.toFixed(1)}, allowing for bad luck)` : '';
  return [`${pathway}: health ${isNum(h.score) ? `${h.score.toFixed(1)} of 100${best}` : 'not known yet (too few views)'}`,
    `views: ${fmtCount(h.views ?? null)}`, `rebuffering: ${fmtPct(h.rebuffer_pct)} of viewing time${lost(h, 'rebuffer')}`,
    `playback failures: ${fmtPct(h.failure_pct)} of views${lost(h, 'failure')}`, `startup time: ${fmtSeconds(h.startup_ms)}${lost(h, 'startup')}`,
    `download speed: ${fmtBps(h.throughput_bps)} (${fmtCount(h.reports ?? null)} player reports)${lost(h, 'throughput')}`].join('\n');
}
export const lostSmall = (h, part) => (isNum(h?.penalties?.[part]) && h.penalties[part] >= 0.05 ? ` <span class="help">\u2212${h.penalties[part].toFixed(1)} pts</span>` : '');
export const scoreCell = (pathway, h) => `<span class="score ${scoreClass(h?.score)}" title="${esc(healthTitle(pathway, h))}">${fmtScore(h?.score)}</span>`;
// The order new sessions get, moved-down pathways marked.
export function priorityChips(priority, demoted = []) {
  const down = new Set(demoted.map((d) => d.pathway));
  return `<span class="order">${priority.map((p, i) => `<span class="chip${down.has(p) ? ' demoted' : ''}" title="${down.has(p) ? 'moved down' : `${ordinal(i + 1)} choice`}">${i + 1}. ${esc(p)}</span>`).join('<span class="sep">›</span>')}</span>`;
}
export const demotedBy = (d) => (d.by === 'action' ? 'by an alert\u2019s runbook action' : d.by === 'policy' ? 'automatically' : `by ${esc(d.by)}`);
export function demotedLine(d, c) {
  const elsewhere = d.cohort && fmtCohort(d.cohort) !== fmtCohort(c.cohort) ? ` for ${esc(fmtCohort(d.cohort))}` : '';
  return `<li><strong>${esc(d.pathway)}</strong> moved down${elsewhere} ${demotedBy(d)} since ${fmtWhen(d.since)}${d.expires_at ? `, until ${fmtClock(d.expires_at)} at the latest` : ''}:
    <span class="why">${esc(d.reason || 'no reason given')}</span></li>`;
}
export const overrideEnds = (o) => (o.expires_at ? `until ${fmtTime(o.expires_at)}` : 'until removed');
export const removeButton = (o) => `<button type="button" class="small" data-remove="${esc(o.id)}" title="Remove this override: the group goes back to the automatic order">Remove</button>`;
export const CHANGE_WORDS = {
  demoted: (c) => `${c.pathway} moved down`, restored: (c) => `${c.pathway} put back in its usual place`,
  override_set: () => 'manual order set', override_cleared: () => 'manual order removed', override_expired: () => 'manual order expired',
  disabled: () => 'automatic steering switched off', enabled: () => 'automatic steering switched on',
  action_demoted: (c) => `${c.pathway} moved down by an alert\u2019s runbook action`, action_reverted: (c) => `${c.pathway} put back after the alert\u2019s action ended`,
};
export const changeWords = (c) => (CHANGE_WORDS[c.kind] ?? ((x) => `${x.kind.replace(/_/g, ' ')}${x.pathway ? ` (${x.pathway})` : ''}`))(c);
export const changeBadge = (kind) => (['demoted', 'action_demoted', 'disabled'].includes(kind) ? 'bad' : ['restored', 'action_reverted', 'enabled'].includes(kind) ? 'good' : 'warn');
