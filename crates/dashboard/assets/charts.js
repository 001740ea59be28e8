// Line charts (uPlot, loaded as a classic script before the modules): the page's charts are
// destroyed before it redraws or another page replaces it.
let charts = [];

export function destroyCharts() {
  charts.forEach((c) => c.destroy());
  charts = [];
}
// Draws `series` (each `{label, values}`) over `xs` in `el`, or says there is nothing to draw yet.
export function lineChart(el, xs, series, format, time = true) {
  if (xs.length === 0) {
    el.innerHTML = '<div class="empty">No views in this range yet</div>';
    return;
  }
  const colors = ['#2f6fde', '#e07b22', '#1f8a4c'];
  const opts = {
    width: Math.max(el.clientWidth, 240),
    height: 130,
    legend: { show: series.length > 1, live: false },
    cursor: { points: { size: 5 } },
    scales: { x: { time } },
    axes: [{ size: 28, grid: { stroke: '#eef1f6' } }, { size: 80, values: (u, ticks) => ticks.map(format), grid: { stroke: '#eef1f6' } }],
    series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], width: 2, spanGaps: true, points: { show: xs.length < 3 } }))],
  };
  charts.push(new uPlot(opts, [xs, ...series.map((s) => s.values)], el));
}
