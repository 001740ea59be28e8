// The page area every page draws into, its refresh timer and its error line: the router stops one
// page's refresh before the next page starts its own.
import { esc } from './format.js';

export const page = document.getElementById('page');
let refreshTimer = null;

// Shows a failed load above what the page already shows.
export function showError(e) {
  page.insertAdjacentHTML('afterbegin', `<p class="error">Could not load data: ${esc(e.message)}</p>`);
}

// Redraws the current page every `ms` milliseconds, until the router stops it.
export function refreshEvery(ms, render) {
  refreshTimer = setInterval(() => render().catch(showError), ms);
}

export function stopRefresh() {
  clearInterval(refreshTimer);
}
