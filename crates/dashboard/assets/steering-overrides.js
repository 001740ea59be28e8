// Manual overrides on the steering page: the list with its remove buttons, and the form that adds
// one (a cohort, an order of pathways, how long, why).
import { dash, esc, fmtTime } from './format.js';
import { fmtCohort, overrideEnds, priorityChips, removeButton } from './steering-format.js';
import { steerSend } from './steering-api.js';

// The overrides in force, and the cohort values seen so far as the form's suggestions.
export function renderOverrides(data) {
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
}

// The form is drawn once (a refresh must not wipe what is being typed); `render` redraws the page.
export function buildOverrideForm(data, render) {
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
}

// Remove buttons, in the override list and in the cohorts' cards alike.
export function listenForRemovals(root, render) {
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
}
