// openqoe dashboard v0: reads the Query API v1 of the server that serves it. This entry module is
// the router: the location's hash names the page, and each page is one module.
import { destroyCharts } from './charts.js';
import { showError, stopRefresh } from './page.js';
import { overview } from './overview.js';
import { breakdown } from './breakdown.js';
import { views } from './views.js';
import { view } from './view.js';
import { alertList } from './alerts.js';
import { alertDetail } from './alert.js';
import { steering } from './steering.js';
import { showWho } from './session.js';

const rangeSelect = document.getElementById('range');

async function route() {
  stopRefresh();
  destroyCharts();
  const [path, query] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query ?? '');
  const name = path.startsWith('/views/') ? 'view' : path.startsWith('/alerts/') ? 'alert'
    : ['/breakdown', '/views', '/alerts', '/steering'].includes(path) ? path.slice(1) : 'overview';
  // One view and one alert light up their list's nav entry.
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name || a.dataset.page === `${name}s`));
  try {
    if (name === 'view') await view(decodeURIComponent(path.slice('/views/'.length)));
    else if (name === 'alert') await alertDetail(decodeURIComponent(path.slice('/alerts/'.length)));
    else if (name === 'alerts') await alertList();
    else if (name === 'steering') await steering();
    else if (name === 'breakdown') await breakdown(params);
    else if (name === 'views') await views(params);
    else await overview();
  } catch (e) {
    showError(e);
  }
}
window.addEventListener('hashchange', route);
rangeSelect.addEventListener('change', route);
route();
showWho(document.getElementById('who'));
