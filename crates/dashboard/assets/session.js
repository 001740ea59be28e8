// Signing in to a server that asks for credentials. The dashboard never keeps a token: it sends
// one once to POST /v1/session, and the server answers with an HttpOnly session cookie that the
// browser then sends with every API call (docs/security.md).
import { esc } from './format.js';

// Thrown by API calls answered 401: the page shows the sign-in form instead of an error.
export class SignInNeeded extends Error {}

// Draws the sign-in form into `target`; a good token reloads the page signed in.
export function signInForm(target) {
  target.innerHTML = `<section class="card signin"><h2>Sign in</h2>
    <p class="help">This server asks for an API token before it shows viewer data. Paste one with
    the <b>read</b> role (or <b>admin</b>, to change steering): the first start wrote one to
    <code>access/admin-token</code> in the data directory; others come from
    <code>openqoe token new</code>. The token is sent once; this browser then keeps only a session.</p>
    <form id="signin-form"><input id="signin-token" type="password" size="48" autocomplete="off" placeholder="oq_…" aria-label="API token">
    <button type="submit">Sign in</button></form><p id="signin-message"></p></section>`;
  document.getElementById('signin-form').onsubmit = async (event) => {
    event.preventDefault();
    const token = document.getElementById('signin-token').value.trim();
    const response = await fetch('/v1/session', {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }),
    });
    if (response.ok) { location.reload(); return; }
    const answer = await response.json().catch(() => ({}));
    document.getElementById('signin-message').innerHTML = `<span class="error">Not signed in: ${esc(answer.error ?? `the server answered ${response.status}`)}</span>`;
  };
}

// The header's "signed in as …" with a way out, when the server asks for credentials.
export async function showWho(target) {
  const response = await fetch('/v1/session');
  if (!response.ok) return;
  const who = await response.json();
  if (who.open) return;
  target.innerHTML = `${esc(who.name)} (${esc(who.role)}) · <a href="#" id="signout">Sign out</a>`;
  document.getElementById('signout').onclick = async (event) => {
    event.preventDefault();
    await fetch('/v1/session', { method: 'DELETE' });
    location.reload();
  };
}
