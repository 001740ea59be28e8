// The dashboard of `openqoe serve`, which asks for credentials, in Debian's headless Chromium: a
// visitor without a session sees the sign-in form, not data; a wrong token is refused with the
// server's reason; the token the first start made signs in (the page then shows who is signed
// in, and the session cookie is out of the page's reach); signing out brings the form back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchChromium, startOpenqoe } from './support.mjs';

test('the dashboard signs in with an API token and out again', { timeout: 120000 }, async () => {
  const openqoe = startOpenqoe('serve', 'openqoe listening:');
  let browser;
  try {
    const url = await openqoe.url;
    const token = (await openqoe.headers).authorization.replace('Bearer ', '');
    const { context, page, problems } = await launchChromium();
    browser = context;
    const refused = [];
    page.on('response', (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`); });
    await page.goto(`${url}/`);
    await page.waitForSelector('#signin-token', { timeout: 30000 });
    assert.equal(await page.$('.tile'), null, 'no numbers before signing in');

    await page.fill('#signin-token', 'oq_not-a-token');
    await page.click('#signin-form button');
    await page.waitForFunction(() => document.getElementById('signin-message')?.textContent.includes('Not signed in'), null, { timeout: 10000 });
    const refusal = await page.textContent('#signin-message');
    assert.match(refusal, /unknown or revoked token/, refusal);

    await page.fill('#signin-token', token);
    await page.click('#signin-form button');
    await page.waitForSelector('#signout', { timeout: 30000 });
    assert.match(await page.textContent('#who'), /first-admin \(admin\)/);
    assert.equal(await page.$('#signin-token'), null, 'the page shows data, not the form');
    assert.equal(await page.evaluate(() => document.cookie), '', 'the session cookie is HttpOnly');

    await page.click('#signout');
    await page.waitForSelector('#signin-token', { timeout: 30000 });
    // Chromium logs every answer of 400 or more: before signing in the API's 401s, and this
    // server's 404 for /v1/steer (it steers nothing; the overview asks to know). Nothing else.
    const expected = (r) => r.startsWith('401 /v1/') || r === '404 /v1/steer';
    assert.deepEqual(refused.filter((r) => !expected(r)), [], `answers: ${refused.join(', ')}`);
    assert.ok(refused.some((r) => r.startsWith('401 ')), 'the API refused the page before it signed in');
    const logged = problems.filter((p) => !/status of (401|404)/.test(p));
    assert.deepEqual(logged, [], 'no console errors but the answers above');
  } finally {
    await browser?.close();
    openqoe.stop();
  }
});
