// The Query API v1 of the server that serves the dashboard, and the time range the header selects.
import { SignInNeeded } from './session.js';

const rangeSelect = document.getElementById('range');

// GETs `path` with `params` (empty ones left out); a refusal throws with the server's reason.
export async function api(path, params = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') url.searchParams.set(k, v);
  const response = await fetch(url);
  if (response.status === 401) throw new SignInNeeded(path);
  if (!response.ok) throw new Error(`${path}: ${response.status} ${(await response.json().catch(() => ({}))).error ?? ''}`);
  return response.json();
}
// The selected range ending now, and the timeseries interval that suits its length.
export function timeRange() {
  const to = Date.now();
  const span = Number(rangeSelect.value);
  return { from: to - span, to: to + 1, interval: span <= 3600000 ? '1m' : span <= 21600000 ? '5m' : '15m' };
}
