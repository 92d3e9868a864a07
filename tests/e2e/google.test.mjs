// With a Google OAuth client id configured (GOOGLE_CLIENT_ID for
// scripts/demo), the page signs in through Google Identity Services' token
// model and talks to https://www.googleapis.com. Neither is reachable here:
// Google's script is replaced by a minimal token client that hands out the
// Drive stand-in's test token, and googleapis.com requests are forwarded to
// the Drive stand-in. What is checked is the page's side: it asks for the
// drive.appdata scope with the configured client id, uses the token it got,
// and says it is on Google Drive.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { control, idle, launchChromium, resetWorld, screenshot, startTestStack } from './support.mjs';

const CLIENT_ID = 'demo-test.apps.googleusercontent.com';

// Stands in for https://accounts.google.com/gsi/client: the token model only.
const FAKE_GIS = `
window.google = { accounts: { oauth2: { initTokenClient(config) {
  window.tokenRequests = [];
  return { requestAccessToken(options) {
    window.tokenRequests.push({ client_id: config.client_id, scope: config.scope, prompt: options && options.prompt });
    setTimeout(() => config.callback({ access_token: 'drive-token-alice', expires_in: 3599, token_type: 'Bearer', scope: config.scope }), 20);
  } };
} } } };`;

let stack;
let browser;

before(async () => {
  stack = await startTestStack({ googleClientId: CLIENT_ID });
  browser = await launchChromium();
  await resetWorld(stack);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

async function openWallet() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.route('https://accounts.google.com/gsi/client', (route) =>
    route.fulfill({ contentType: 'text/javascript', body: FAKE_GIS }),
  );
  await context.route('https://www.googleapis.com/**', async (route) => {
    const request = route.request();
    const url = request.url().replace('https://www.googleapis.com', stack.driveUrl);
    const response = await fetch(url, {
      method: request.method(),
      headers: { ...(await request.allHeaders()), origin: new URL(stack.url).origin },
      body: request.postDataBuffer() ?? undefined,
    });
    const headers = Object.fromEntries(response.headers);
    headers['access-control-allow-origin'] = stack.url;
    headers['access-control-allow-headers'] = 'Authorization, Content-Type';
    headers['access-control-allow-methods'] = 'GET, POST, PATCH, DELETE, OPTIONS';
    delete headers['content-length'];
    delete headers['content-encoding'];
    await route.fulfill({ status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) });
  });
  const page = await context.newPage();
  await page.goto(`${stack.url}/`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
  return page;
}

test('with a Google client id, the page signs in with the token model and backs up to Drive', async () => {
  const first = await openWallet();
  assert.equal(await first.locator('#environment').textContent(), 'Google Drive · iCloud: local stand-in · Portal: local stand-in');
  const backedUp = {};
  for (const item of await first.locator('#device-shares li').all()) {
    backedUp[await item.locator('.curve').textContent()] = await item.locator('.fingerprint').textContent();
  }

  await first.getByRole('button', { name: 'Back up wallet' }).click();
  await first.locator('#backup-outcome .alert').waitFor({ timeout: 60_000 });
  await idle(first);
  assert.match(await first.locator('#backup-outcome').textContent(), /Backed up with Google Drive/);
  const requests = await first.evaluate(() => window.tokenRequests);
  assert.deepEqual(requests, [{ client_id: CLIENT_ID, scope: 'https://www.googleapis.com/auth/drive.appdata', prompt: 'consent' }]);
  const files = await control(stack.driveUrl, 'files?user=alice');
  assert.equal(files.filter((f) => f.parents?.includes('appDataFolder')).length, 1, 'one key file in appDataFolder');
  await screenshot(first, '7-google-backed-up');
  await first.context().close();

  const second = await openWallet();
  await second.getByRole('button', { name: 'Recover wallet' }).click();
  await second.locator('#recover-outcome .alert').waitFor({ timeout: 60_000 });
  assert.match(await second.locator('#recover-outcome').textContent(), /the recovered shares equal the backed-up ones/);
  const recovered = {};
  for (const item of await second.locator('#recover-outcome [data-curve]').all()) {
    recovered[await item.locator('.curve').textContent()] = await item.locator('.fingerprint').textContent();
  }
  assert.deepEqual(recovered, backedUp);
  await second.context().close();
});

test('without Google reachable, the page says so and the password backup still works', async () => {
  const context = await browser.newContext();
  await context.route('https://accounts.google.com/**', (route) => route.abort('internetdisconnected'));
  const page = await context.newPage();
  await page.goto(`${stack.url}/`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
  assert.match(await page.locator('#environment').textContent(), /Google Drive: sign-in unavailable/);

  await page.getByRole('button', { name: 'Back up wallet' }).click();
  await page.locator('#backup-outcome .alert').waitFor();
  assert.match(await page.locator('#backup-outcome').textContent(), /Backup failed.*Google sign-in/s);

  await page.locator('#backup-form').getByRole('radio', { name: /Password/ }).check();
  await page.locator('#backup-form').getByRole('textbox', { name: 'Backup password' }).fill('offline password');
  await page.locator('#backup-form').getByRole('textbox', { name: 'Type it again' }).fill('offline password');
  await page.getByRole('button', { name: 'Back up wallet' }).click();
  await page.locator('#backup-outcome .alert.success').waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#backup-outcome').textContent(), /Backed up with Password/);
  await context.close();
});
