// CDN steering: the steering server's state (`GET /v1/steer`): whether decisions follow viewers'
// experience (with the kill switch), each pathway's health, the cohorts where the order differs,
// manual overrides and the change log. Redraws every 5 s without wiping the override form.
import { dash, esc, fmtBps, fmtCount, fmtPct, fmtSeconds, fmtTime, isNum } from './format.js';
import { page, refreshEvery } from './page.js';
import { loadSteering, rememberSteeringAbsent, steerSend } from './steering-api.js';
import {
  changeBadge, changeWords, demotedLine, fmtCohort, fmtWhen, fmtWindow, healthTitle, isEveryone, lostSmall, ordinal,
  overrideEnds, priorityChips, removeButton, scoreCell, scoreClass, fmtScore,
} from './steering-format.js';
import { buildOverrideForm, listenForRemovals, renderOverrides } from './steering-overrides.js';

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

export async function steering() {
  const root = document.createElement('div');
  root.id = 'steering';
  page.innerHTML = '';
  page.append(root);
  let data = null;
  let formReady = false;
  let showAll = false; // the other groups' table shows its first OTHERS_SHOWN rows until asked for all
  const OTHERS_SHOWN = 20;
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
    <div id="steer-help"></div>`;

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

  const renderChanges = () => {
    const shown = data.changes.slice(0, 100);
    document.getElementById('steer-changes').innerHTML = shown.length === 0 ? '<p class="help">Nothing has changed since the server started.</p>'
      : `<table id="change-table"><thead><tr><th>when</th><th>group of viewers</th><th>what changed</th><th>why</th><th>order since</th></tr></thead><tbody>
        ${shown.map((c) => `<tr data-kind="${esc(c.kind)}"><td>${fmtTime(c.at)}</td><td>${esc(fmtCohort(c.cohort))}</td>
          <td><span class="badge ${changeBadge(c.kind)}">${esc(changeWords(c))}</span></td><td class="wrap">${esc(c.reason || dash)}</td>
          <td>${c.priority?.length ? priorityChips(c.priority) : dash}</td></tr>`).join('')}</tbody></table>
        ${data.changes.length > shown.length ? `<p class="help">The ${fmtCount(shown.length)} most recent of ${fmtCount(data.changes.length)} changes.</p>` : ''}`;
  };

  const buildForm = () => {
    buildOverrideForm(data, render);
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
  };

  const render = async () => {
    const next = await loadSteering();
    if (!root.isConnected) return;
    if (next === null) {
      rememberSteeringAbsent(true);
      root.innerHTML = STEER_SETUP;
      formReady = false;
      return;
    }
    rememberSteeringAbsent(false);
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
    renderOverrides(data);
    renderChanges();
    document.getElementById('steer-help').innerHTML = steerHelp(data.ttl_seconds, data.window_seconds);
    root.dataset.loaded = data.evaluated_at ?? '';
  };
  listenForRemovals(root, render);
  await render();
  refreshEvery(5000, render);
}
