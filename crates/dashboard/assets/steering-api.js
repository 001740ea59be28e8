// The steering server's operator API (`/v1/steer`): its state, changes (an admin's), and the
// overview's banner while automatic steering is off.
import { esc } from './format.js';
import { SignInNeeded } from './session.js';

let steerAbsent = false; // a 404 from /v1/steer: this server steers nothing until restarted with [steer]

export function rememberSteeringAbsent(absent) {
  steerAbsent = absent;
}

// The steering state, or null when this server has no `[steer]` section.
export async function loadSteering() {
  const response = await fetch('/v1/steer');
  if (response.status === 404) return null;
  if (response.status === 401) throw new SignInNeeded('/v1/steer');
  if (!response.ok) throw new Error(`/v1/steer: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
  return response.json();
}

// Sends a change with this browser's session; a refusal shows its reason.
export async function steerSend(method, path, body, messageEl) {
  const headers = { 'content-type': 'application/json' };
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const answer = await response.json().catch(() => ({}));
  if (response.ok) return answer;
  if (response.status === 401) {
    messageEl.innerHTML = '<span class="error">Your session has ended: reload the page and sign in again.</span>';
  } else if (response.status === 403) {
    messageEl.innerHTML = `<span class="error">Not done: ${esc(answer.error ?? 'changing steering needs an admin token')}. Sign out and sign in with an admin token to change steering.</span>`;
  } else {
    messageEl.innerHTML = `<span class="error">Not done: ${esc(answer.error ?? `the server answered ${response.status}`)}</span>`;
  }
  return null;
}

// Overview: a plain warning while someone has switched automatic steering off.
export async function steeringBanner() {
  if (steerAbsent) return '';
  const response = await fetch('/v1/steer');
  if (response.status === 404) { steerAbsent = true; return ''; }
  if (!response.ok) return '';
  const data = await response.json();
  return data.enabled ? '' : '<a class="banner" href="#/steering">Automatic CDN steering is switched off: players get the default CDN order.</a>';
}
