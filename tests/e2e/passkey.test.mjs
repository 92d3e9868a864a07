// The PASSKEY method end to end: the demo wallet in Chromium against the
// demo's stack, with a CDP virtual authenticator (CTAP2, internal, resident
// keys, user verification, PRF) standing in for the user's passkey.
// WebAuthn wants a domain as the relying party id, so the page is opened on
// http://localhost:<port> (the Worker allows that origin).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { DEMO_PORTAL_TOKEN } from '../../scripts/lib/stack.mjs';
import { assertRecoverable, idle, launchChromium, resetWorld, screenshot, startTestStack } from './support.mjs';
import { pageWithAuthenticator } from '../support/webauthn.mjs';

let stack;
let browser;
let origin;

before(async () => {
  stack = await startTestStack();
  browser = await launchChromium();
  origin = stack.url.replace('127.0.0.1', 'localhost');
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

beforeEach(async () => {
  await resetWorld(stack);
});

/**
 * The demo wallet on a fresh device whose platform authenticator is a
 * virtual one. `prf: false` is an authenticator without the PRF extension.
 */
async function openWallet({ prf = true } = {}) {
  const { page, cdp, authenticatorId, problems, passkeys } = await pageWithAuthenticator(browser, {
    prf,
    contextOptions: { viewport: { width: 1200, height: 900 } },
  });
  await page.goto(`${origin}/`);
  await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
  assert.deepEqual(problems, [], 'the page threw');
  return { page, cdp, authenticatorId, passkeys };
}

/** { curve: fingerprint } of the shares a list shows. */
async function sharesIn(page, selector) {
  const out = {};
  for (const item of await page.locator(`${selector} li`).all()) {
    out[await item.locator('.curve').textContent()] = await item.locator('.fingerprint').textContent();
  }
  return out;
}

async function run(page, form, button) {
  await page.locator(form).getByRole('radio', { name: /Passkey/ }).check();
  await page.getByRole('button', { name: button }).click();
  const outcome = page.locator(`${form.replace('-form', '-outcome')} .alert`);
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

const backUp = (page) => run(page, '#backup-form', 'Back up wallet');
const recover = (page) => run(page, '#recover-form', 'Recover wallet');

/** What the Worker holds for this client: the list, and the PASSKEY versions (or the status). */
async function serverState() {
  const get = async (path) => {
    const response = await fetch(`${stack.url}${path}`, { headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}` } });
    return { status: response.status, body: await response.json() };
  };
  return { list: await get('/v1/client-backups'), passkey: await get('/v1/client-backups/PASSKEY') };
}

/** The credential id (base64url) a passkey envelope's header names. */
function headerCredentialId(cipherText) {
  const bytes = Buffer.from(cipherText, 'base64url');
  assert.equal(bytes.subarray(0, 4).toString(), 'PBAK');
  assert.equal(bytes[5], 0x03, 'key kind 0x03: passkey');
  return bytes.subarray(8, 8 + bytes.readUInt16BE(6)).toString('base64url');
}

describe('PASSKEY backup', () => {
  test('backs up, then recovers on a new device with only the passkey left', async () => {
    const { page, cdp, passkeys } = await openWallet();
    const backedUp = await sharesIn(page, '#device-shares');
    assert.equal(Object.keys(backedUp).length, 2);

    const outcome = await backUp(page);
    assert.match(await outcome.getAttribute('class'), /success/, await outcome.textContent());
    assert.match(await outcome.textContent(), /Backed up with Passkey/);
    const [passkey] = await passkeys();
    assert.equal((await passkeys()).length, 1, 'the backup made one passkey');
    const stored = await serverState();
    assert.deepEqual(stored.list.body.backups.map((b) => b.backupMethod), ['PASSKEY']);
    assert.equal(stored.passkey.body.current.confirmed, true);
    assert.equal(headerCredentialId(stored.passkey.body.current.cipherText), Buffer.from(passkey.credentialId, 'base64').toString('base64url'));
    await screenshot(page, 'passkey-backup');

    // A new device: all of the page's storage gone, the page reloaded; the
    // same (virtual) authenticator stays, as a synced passkey would.
    await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
    assert.equal(await page.evaluate(() => localStorage.length), 0, 'local storage wiped');

    const recovered = await recover(page);
    assert.match(await recovered.getAttribute('class'), /success/, await recovered.textContent());
    assert.match(await recovered.textContent(), /recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(page, '#recover-outcome'), backedUp);
    assert.equal((await passkeys())[0].signCount, passkey.signCount + 1, 'one get, with that passkey');
    await screenshot(page, 'passkey-recovered');

    // The next backup uses the same passkey (the page remembered its id).
    assert.match(await (await backUp(page)).getAttribute('class'), /success/);
    assert.equal((await passkeys()).length, 1, 'no second passkey');
    await page.context().close();
  });

  test('an authenticator without PRF gives PASSKEY_PRF_UNSUPPORTED and stores nothing', async () => {
    const { page } = await openWallet({ prf: false });
    const before = await serverState();
    assert.equal(before.passkey.status, 404);

    const outcome = await backUp(page);
    assert.match(await outcome.getAttribute('class'), /error/);
    assert.match(await outcome.textContent(), /cannot derive a backup key\. Use Google Drive or a password instead/);
    assert.match(await outcome.textContent(), /Failed at: Encrypt the backup share/);
    const code = await page.evaluate(async () => {
      const { backupWallet } = await import('/pkg/portal_backup.js');
      const error = await backupWallet({ method: 'PASSKEY', clientId: 'x', portalToken: 't', serverUrl: location.origin, clientBackup: '{"SECP256K1":{"id":"p","share":"s"}}' }).catch((e) => e);
      return error.code;
    });
    assert.equal(code, 'PASSKEY_PRF_UNSUPPORTED');
    assert.deepEqual(await serverState(), before, 'nothing stored on the server');
    await page.context().close();
  });

  test('a refused passkey prompt gives PASSKEY_CANCELLED and changes nothing', async () => {
    const { page, cdp, authenticatorId } = await openWallet();
    assert.match(await (await backUp(page)).getAttribute('class'), /success/);
    const before = await serverState();
    // The user does not verify (cancels): WebAuthn rejects with NotAllowedError.
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    const backup = await backUp(page);
    assert.match(await backup.textContent(), /passkey prompt was cancelled/);
    const recovery = await recover(page);
    assert.match(await recovery.textContent(), /passkey prompt was cancelled/);
    assert.match(await recovery.textContent(), /Failed at: Decrypt the backup share/);
    assert.deepEqual(await serverState(), before, 'nothing stored on the server');
    await page.context().close();
  });

  test('moves the backup to a new passkey: the old one opens it once, the new one opens it after, Check green', async () => {
    const { page, cdp, passkeys } = await openWallet();
    const backedUp = await sharesIn(page, '#device-shares');
    assert.match(await (await backUp(page)).getAttribute('class'), /success/);
    const [old] = await passkeys();
    const before = await serverState();

    const form = page.locator('#change-form');
    await form.getByRole('radio', { name: /Passkey/ }).check();
    await form.getByRole('button', { name: 'Move to a new passkey' }).click();
    const outcome = page.locator('#change-outcome .alert');
    await outcome.waitFor({ timeout: 60_000 });
    await idle(page);
    assert.match(await outcome.getAttribute('class'), /success/, await outcome.textContent());
    assert.match(await outcome.textContent(), /Backup moved to a new passkey/);
    assert.match(await outcome.locator('[data-fact="old-key"]').textContent(), /The old passkey no longer opens anything on the server/);
    assert.match(await outcome.locator('[data-fact="portal"]').textContent(), /Portal was not asked for anything/);
    await screenshot(page, 'passkey-moved');

    const all = await passkeys();
    assert.equal(all.length, 2, 'a new passkey was made');
    const moved = all.find((p) => p.credentialId !== old.credentialId);
    assert.equal(all.find((p) => p.credentialId === old.credentialId).signCount, old.signCount + 1, 'the old passkey opened the backup once');
    const after = await serverState();
    assert.equal(headerCredentialId(after.passkey.body.current.cipherText), Buffer.from(moved.credentialId, 'base64').toString('base64url'), 'sealed for the new passkey');
    assert.deepEqual(after.passkey.body.current.backupSharePairIds, before.passkey.body.current.backupSharePairIds);

    // Check backups, Passkey ticked: green, opened by the new passkey.
    await page.locator('#check-form').getByRole('checkbox', { name: /Passkey/ }).check();
    await page.getByRole('button', { name: 'Check backups' }).click();
    await idle(page);
    const row = page.locator('#check-list li[data-method="PASSKEY"]');
    await assertRecoverable(row);

    // A new device with the same authenticator: recovery asks the new passkey only.
    const counts = Object.fromEntries((await passkeys()).map((p) => [p.credentialId, p.signCount]));
    await cdp.send('Storage.clearDataForOrigin', { origin, storageTypes: 'all' });
    await page.reload();
    await page.locator('body[data-ready="true"]').waitFor({ timeout: 20_000 });
    const recovered = await recover(page);
    assert.match(await recovered.textContent(), /recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(page, '#recover-outcome'), backedUp);
    const now = Object.fromEntries((await passkeys()).map((p) => [p.credentialId, p.signCount]));
    assert.equal(now[moved.credentialId], counts[moved.credentialId] + 1, 'the new passkey answered');
    assert.equal(now[old.credentialId], counts[old.credentialId], 'the old one was not asked');
    await page.context().close();
  });

  test('another passkey gives CANNOT_DECRYPT', async () => {
    const { page, passkeys } = await openWallet();
    assert.match(await (await backUp(page)).getAttribute('class'), /success/);
    const [sealer] = await passkeys();

    // The user's other passkey for this site, on the same authenticator.
    await page.evaluate(async () => {
      await navigator.credentials.create({ publicKey: {
        challenge: new Uint8Array(32), rp: { id: 'localhost', name: 'other' },
        user: { id: new Uint8Array([7]), name: 'other', displayName: 'other' },
        pubKeyCredParams: [{ type: 'public-key', alg: -7 }],
        authenticatorSelection: { residentKey: 'required', userVerification: 'required' },
        extensions: { prf: {} },
      } });
    });
    const other = (await passkeys()).find((p) => p.credentialId !== sealer.credentialId);

    // The stored backup, its header now naming the other passkey (stored
    // and confirmed through the Worker's own API): recovery asks that
    // passkey, whose PRF output is another key.
    const { passkey } = await serverState();
    const envelope = Buffer.from(passkey.body.current.cipherText, 'base64url');
    const otherId = Buffer.from(other.credentialId, 'base64');
    const length = Buffer.alloc(2);
    length.writeUInt16BE(otherId.length);
    const rest = envelope.subarray(8 + envelope.readUInt16BE(6));
    const tampered = Buffer.concat([envelope.subarray(0, 6), length, otherId, rest]).toString('base64url');
    const call = async (method, path, body) => {
      const response = await fetch(`${stack.url}/v1/client-backups/PASSKEY${path}`, {
        method, headers: { Authorization: `Bearer ${DEMO_PORTAL_TOKEN}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      assert.ok(response.ok, await response.clone().text());
      return response.json();
    };
    const put = await call('PUT', '', { cipherText: tampered, backupSharePairIds: passkey.body.current.backupSharePairIds, notifyPortal: false });
    await call('POST', '/confirm', { backupId: put.backup.backupId });

    const outcome = await recover(page);
    assert.match(await outcome.getAttribute('class'), /error/);
    assert.match(await outcome.textContent(), /does not open the backup on the server/);
    const after = await passkeys();
    assert.equal(after.find((p) => p.credentialId === other.credentialId).signCount, other.signCount + 1, 'the other passkey answered');
    assert.equal(after.find((p) => p.credentialId === sealer.credentialId).signCount, sealer.signCount, 'the sealing one was not asked');
    const code = await page.evaluate(async () => {
      const { recoverWallet } = await import('/pkg/portal_backup.js');
      const config = await (await fetch('/demo-config.json')).json();
      const client = await (await fetch(`${config.portalApiUrl}/api/v3/clients/me`, { headers: { Authorization: `Bearer ${config.portalToken}` } })).json();
      const error = await recoverWallet({ method: 'PASSKEY', clientId: client.id, portalToken: config.portalToken, serverUrl: location.origin, portalApiUrl: config.portalApiUrl }).catch((e) => e);
      return error.code;
    });
    assert.equal(code, 'CANNOT_DECRYPT');
    await page.context().close();
  });
});
