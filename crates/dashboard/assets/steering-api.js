// The steering server's operator API (`/v1/steer`): its state, changes sent with the admin token,
// and the overview's banner while automatic steering is off.
import { esc } from './format.js';

const TOKEN_KEY = 'openqoe-steer-token';
let steerAbsent = false; // a 404 from /v1/steer: this server steers nothing until restarted with [steer]

export function rememberSteeringAbsent(absent) {
  steerAbsent = absent;
}

// The steering state, or null when this server has no `[steer]` section.
export async function loadSteering() {
  const response = await fetch('/v1/steer');
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`/v1/steer: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
  return response.json();
}

// Changes are sent with the admin token, if this server asks for one; a refusal shows its reason.
export async function steerSend(method, path, body, messageEl) {
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

// Overview: a plain warning while someone has switched automatic steering off.
export async function steeringBanner() {
  if (steerAbsent) return '';
  const response = await fetch('/v1/steer');
  if (response.status === 404) { steerAbsent = true; return ''; }
  if (!response.ok) return '';
  const data = await response.json();
  return data.enabled ? '' : '<a class="banner" href="#/steering">Automatic CDN steering is switched off: players get the default CDN order.</a>';
}

// Keeps the admin token in this tab only; an empty one forgets it.
export function saveAdminToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
}
