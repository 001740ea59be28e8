// Overview: the key experience numbers of the selected range as tiles with their trend, how many
// are watching, and banners for firing alerts and switched-off steering.
import { api, timeRange } from './api.js';
import { destroyCharts, lineChart } from './charts.js';
import { dash, fmtCount, fmtPct, fmtSeconds, fmtUnit } from './format.js';
import { page, refreshEvery } from './page.js';
import { alertBanner } from './alerts.js';
import { steeringBanner } from './steering-api.js';

const TILES = [
  { id: 'experience', title: 'Experience score', metric: 'experience_score', help: 'One number, 0 to 100: did it play, how fast it started, how smooth, how sharp (average view and median).',
    value: (r) => `${fmtUnit('score', r.mean)}<small>median ${fmtUnit('score', r.p50)}</small>`, series: [{ label: 'mean', field: 'mean' }], format: (v) => fmtUnit('score', v) },
  { id: 'views', title: 'Views', metric: 'playback_failure', help: 'Play attempts that started in this range.',
    value: (r) => fmtCount(r.denominator), series: [{ label: 'views', field: 'denominator' }], format: fmtCount },
  { id: 'startup', title: 'Video startup time', metric: 'video_startup_time_ms', help: 'How long viewers wait from pressing play to the first frame (median and slowest 5%).',
    value: (r) => `${fmtSeconds(r.p50)}<small>p95 ${fmtSeconds(r.p95)}</small>`, series: [{ label: 'p50', field: 'p50' }, { label: 'p95', field: 'p95' }], format: fmtSeconds },
  { id: 'rebuffer', title: 'Rebuffer percentage', metric: 'rebuffer_percentage', help: 'Share of viewing time spent frozen waiting for video (average view and worst 5%).',
    value: (r) => `${fmtPct(r.mean)}<small>p95 ${fmtPct(r.p95)}</small>`, series: [{ label: 'mean', field: 'mean' }, { label: 'p95', field: 'p95' }], format: fmtPct },
  { id: 'failure', title: 'Playback failures', metric: 'playback_failure', help: 'Share of views that ended in an error.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'failed', field: 'value' }], format: fmtPct },
  { id: 'ebvs', title: 'Exits before video start', metric: 'exit_before_video_start', help: 'Share of viewers who gave up waiting before the video started.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'exited', field: 'value' }], format: fmtPct },
  { id: 'startfail', title: 'Startup failures', metric: 'startup_failure', help: 'Share of play attempts that failed with an error before the first frame.',
    value: (r) => `${fmtPct(r.value)}<small>${fmtCount(r.numerator)} of ${fmtCount(r.denominator)}</small>`, series: [{ label: 'failed', field: 'value' }], format: fmtPct },
];

export async function overview() {
  page.innerHTML = `<div id="alert-banner"></div><h1>How viewers are doing</h1><p class="lede">Key experience numbers for the selected time range, with their trend per interval.
    <span id="audience"></span></p>
    <div class="tiles">${TILES.map((t) => `<section class="tile" id="tile-${t.id}"><h2>${t.title}</h2>
      <div class="value" data-value>${dash}</div><p class="help">${t.help}</p><div class="chart" data-chart></div></section>`).join('')}</div>`;
  const render = async () => {
    const w = timeRange();
    const results = await Promise.all(TILES.map(async (t) => {
      const [breakdown, series] = await Promise.all([
        api(`/v1/metrics/${t.metric}/breakdown`, { from: w.from, to: w.to }),
        api(`/v1/metrics/${t.metric}/timeseries`, { from: w.from, to: w.to, interval: w.interval }),
      ]);
      return { t, row: breakdown.rows[0] ?? {}, points: series.points };
    }));
    const audience = (await api('/v1/audience', { from: w.from, to: w.to })).rows[0] ?? {};
    document.getElementById('audience').innerHTML = ` <strong data-watching>${fmtCount(audience.watching_now ?? 0)}</strong> watching now · ${fmtCount(audience.unique_viewers ?? 0)} unique viewers in this range.`;
    destroyCharts();
    for (const { t, row, points } of results) {
      const tile = document.getElementById(`tile-${t.id}`);
      if (!tile) return;
      tile.querySelector('[data-value]').innerHTML = t.value(row);
      const chartEl = tile.querySelector('[data-chart]');
      chartEl.innerHTML = '';
      lineChart(chartEl, points.map((p) => p.t / 1000), t.series.map((s) => ({ label: s.label, values: points.map((p) => p[s.field] ?? null) })), t.format);
    }
    // Last, so a slow alert list never holds the numbers back.
    const { alerts: firing } = await api('/v1/alerts', { status: 'firing' });
    const steer = await steeringBanner().catch(() => '');
    const banner = document.getElementById('alert-banner');
    if (banner) banner.innerHTML = alertBanner(firing) + steer;
  };
  await render();
  refreshEvery(10000, render);
}
