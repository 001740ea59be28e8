// How numbers read on the dashboard: units, percentages, times and groups of viewers, and HTML
// escaping for every value that comes from the server.
export const dash = '—';
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
export const fmtSeconds = (ms) => (isNum(ms) ? `${(ms / 1000).toFixed(2)} s` : dash);
export const fmtPct = (v) => (isNum(v) ? `${v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : v.toFixed(0)}%` : dash);
export const fmtBps = (v) => (isNum(v) ? (v >= 1e6 ? `${(v / 1e6).toFixed(2)} Mbps` : `${Math.round(v / 1e3)} kbps`) : dash);
export const fmtCount = (v) => (isNum(v) ? (Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2)) : dash);
export const fmtTime = (ms) => (isNum(ms) ? new Date(ms).toLocaleTimeString() : dash);
export const fmtClock = (ms) => (isNum(ms) ? new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : dash);
export function fmtDuration(ms) {
  if (!isNum(ms) || ms < 0) return dash;
  const minutes = Math.round(ms / 60000);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
// A group of viewers, `{cdn: 'cdn-b', country: 'DE'}` → "cdn=cdn-b & country=DE"; `{}` is everyone.
export const fmtElement = (el) => Object.entries(el ?? {}).map(([d, v]) => `${d}=${v}`).join(' & ') || 'all views';
export function fmtUnit(unit, v) {
  if (unit === 'score') return v === null || v === undefined ? dash : Number(v).toFixed(1);
  if (unit === 'mos') return v === null || v === undefined ? dash : Number(v).toFixed(2);
  if (unit === 'ms') return fmtSeconds(v);
  if (unit === 'percent' || unit === '%') return fmtPct(v);
  if (unit === 'bps') return fmtBps(v);
  return fmtCount(v);
}
export const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
