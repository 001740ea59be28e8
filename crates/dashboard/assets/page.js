// The page area every page draws into, its refresh timer and its error line: the router stops one
// page's refresh before the next page starts its own.
import { esc } from './format.js';
import { SignInNeeded, signInForm } from './session.js';

export const page = document.getElementById('page');
let refreshTimer = null;

// Shows a failed load above what the page already shows; a server that wants a sign-in gets its form.
export function showError(e) {
  if (e instanceof SignInNeeded) {
    stopRefresh();
    signInForm(page);
    return;
  }
  page.insertAdjacentHTML('afterbegin', `<p class="error">Could not load data: ${esc(e.message)}</p>`);
}

// Redraws the current page every `ms` milliseconds, until the router stops it.
export function refreshEvery(ms, render) {
  refreshTimer = setInterval(() => render().catch(showError), ms);
}

export function stopRefresh() {
  clearInterval(refreshTimer);
}
