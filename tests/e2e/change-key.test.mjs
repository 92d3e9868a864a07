// "Change password or key" on the demo page (changeBackupKey): a new key
// for the same backup, with no new Portal backup. Checked as a user sees it:
// what the page says, which password then opens the backup, and the Check
// backups panel; and behind the page, that the server holds a new version
// of the same backup share pairs and Portal was asked nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertRecoverable, control, idle, screenshot, serverBackup, sharesIn, useDemo } from './support.mjs';

const OLD_PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'tr0ub4dor & three more words';

// A new device: `openWallet()`, a fresh browser context with empty storage.
const demo = useDemo();
const openWallet = () => demo.openWallet();

const methodRadio = (name) => ({ GDRIVE: /Google Drive/, PASSWORD: /Password/ })[name];

async function backUp(page, method, password) {
  const form = page.locator('#backup-form');
  await form.getByRole('radio', { name: methodRadio(method) }).check();
  if (password) {
    await form.getByRole('textbox', { name: 'Backup password' }).fill(password);
    await form.getByRole('textbox', { name: 'Type it again' }).fill(password);
  }
  await page.getByRole('button', { name: 'Back up wallet' }).click();
  await page.locator('#backup-outcome .alert.success').waitFor({ timeout: 60_000 });
  await idle(page);
}

async function recover(page, method, password) {
  const form = page.locator('#recover-form');
  await form.getByRole('radio', { name: methodRadio(method) }).check();
  if (password !== undefined) await form.getByRole('textbox', { name: 'Backup password' }).fill(password);
  await page.getByRole('button', { name: 'Recover wallet' }).click();
  const outcome = page.locator('#recover-outcome .alert');
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

/** Fills the change form for a password change and submits it; the outcome box. */
async function changePassword(page, current, next, again = next) {
  const form = page.locator('#change-form');
  await form.getByRole('radio', { name: /Password/ }).check();
  await form.getByRole('textbox', { name: 'Current password' }).fill(current);
  await form.getByRole('textbox', { name: 'New password' }).fill(next);
  await form.getByRole('textbox', { name: 'Type the new one again' }).fill(again);
  await form.getByRole('button', { name: 'Change password' }).click();
  const outcome = page.locator('#change-outcome .alert');
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

async function checkWith(page, password) {
  await page.locator('#check-form').getByRole('textbox', { name: /Backup password/ }).fill(password);
  await page.getByRole('button', { name: 'Check backups' }).click();
  await idle(page);
  return page.locator('#check-list li[data-method="PASSWORD"]');
}

/** Portal's record of PATCH backup-share-pairs calls for the demo client. */
const portalCalls = () => control(demo.stack.portalUrl, 'calls');

describe('changing the backup key', () => {
  test('a new password: a wrong current one changes nothing; then the new one recovers, the old one is refused, Check is green', async () => {
    const page = await openWallet();
    const backedUp = await sharesIn(page, '#device-shares');
    await backUp(page, 'PASSWORD', OLD_PASSWORD);
    await page.locator('#custodian-list li[data-method="PASSWORD-ED25519"]').waitFor({ timeout: 15_000 });
    await page.locator('#custodian-list li[data-method="PASSWORD-SECP256K1"]').waitFor({ timeout: 15_000 });
    const before = await serverBackup(demo.stack, 'PASSWORD');
    const callsBefore = await portalCalls();

    // The row in the list leads to the form, set to the password backup.
    await page.locator('#backup-list tr[data-method="PASSWORD"]').getByRole('button', { name: 'Change password' }).click();
    assert.equal(await page.locator('#change-form').getByRole('radio', { name: /Password/ }).isChecked(), true);
    assert.equal(await page.locator('#change-button').textContent(), 'Change password');

    // The new password typed twice, differently: refused before anything runs.
    const differ = await changePassword(page, OLD_PASSWORD, NEW_PASSWORD, `${NEW_PASSWORD}!`);
    assert.match(await differ.textContent(), /The two passwords differ/);

    // A wrong current password: a clear message, and nothing changed.
    const wrong = await changePassword(page, 'not the password', NEW_PASSWORD);
    assert.match(await wrong.getAttribute('class'), /error/);
    assert.match(await wrong.textContent(), /Password not changed/);
    assert.match(await wrong.textContent(), /The current password you typed does not open this backup, so nothing was changed/);
    assert.equal(await page.locator('#change-steps li.failed').textContent(), 'Open the backup with the current password');
    assert.deepEqual(await serverBackup(demo.stack, 'PASSWORD'), before, 'the server holds what it held');
    await screenshot(page, 'change-1-wrong-current-password');

    // The right one: a new version, the old password no longer opens it, Portal not asked.
    const changed = await changePassword(page, OLD_PASSWORD, NEW_PASSWORD);
    assert.match(await changed.getAttribute('class'), /success/, await changed.textContent());
    assert.match(await changed.textContent(), /Password changed/);
    assert.match(await changed.locator('[data-fact="version"]').textContent(), /New version of the Password backup, stored .*the same backup shares, sealed with the new password/);
    assert.match(await changed.locator('[data-fact="old-key"]').textContent(), /The old password no longer opens anything on the server/);
    assert.match(await changed.locator('[data-fact="portal"]').textContent(), /Portal was not asked for anything/);
    assert.equal(await page.locator('#change-steps li.done').count(), 5, 'every step of the change done');
    for (const name of ['Current password', 'New password', 'Type the new one again']) {
      assert.equal(await page.locator('#change-form').getByRole('textbox', { name }).inputValue(), '', `${name} emptied`);
    }
    // Check backups, at once, for that method: green.
    const checked = page.locator('#check-list li[data-method="PASSWORD"]');
    await checked.locator('.badge').waitFor();
    await assertRecoverable(checked);
    assert.match(await checked.textContent(), /Checked right after the key change/);
    await screenshot(page, 'change-2-password-changed');

    const after = await serverBackup(demo.stack, 'PASSWORD');
    assert.notEqual(after.body.current.backupId, before.body.current.backupId, 'a new version');
    assert.deepEqual(after.body.current.backupSharePairIds, before.body.current.backupSharePairIds, 'the same backup share pairs');
    assert.equal(after.body.current.confirmed, true);
    assert.equal(after.body.previous ?? null, null, 'no older version kept');
    assert.deepEqual(await portalCalls(), callsBefore, 'Portal was asked nothing');

    // The Check button, as a user presses it: the new password green, the old one refused.
    assert.equal(await (await checkWith(page, NEW_PASSWORD)).getAttribute('data-problems'), '');
    assert.match(await (await checkWith(page, OLD_PASSWORD)).textContent(), /Wrong password/);
    await page.context().close();

    // A new device: the old password is refused, the new one recovers the same shares.
    const other = await openWallet();
    const refused = await recover(other, 'PASSWORD', OLD_PASSWORD);
    assert.match(await refused.textContent(), /Recovery failed/);
    assert.match(await refused.textContent(), /That password does not open this backup/);
    const recovered = await recover(other, 'PASSWORD', NEW_PASSWORD);
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(other, '#recover-outcome'), backedUp);
    const green = await checkWith(other, NEW_PASSWORD);
    await assertRecoverable(green);
    await other.context().close();
  });

  test('a new Drive key: a new key file, the old one removed, Portal not asked, Check green, and it recovers', async () => {
    const page = await openWallet();
    const backedUp = await sharesIn(page, '#device-shares');
    await backUp(page, 'GDRIVE');
    await page.locator('#custodian-list li[data-method="GDRIVE-ED25519"]').waitFor({ timeout: 15_000 });
    await page.locator('#custodian-list li[data-method="GDRIVE-SECP256K1"]').waitFor({ timeout: 15_000 });
    const keyFiles = async () => (await control(demo.stack.driveUrl, 'files?user=alice')).filter((f) => f.parents?.includes('appDataFolder'));
    const [oldFile] = await keyFiles();
    const before = await serverBackup(demo.stack, 'GDRIVE');
    const callsBefore = await portalCalls();

    await page.locator('#backup-list tr[data-method="GDRIVE"]').getByRole('button', { name: 'Change key' }).click();
    await page.locator('#change-form').getByRole('button', { name: 'New key' }).click();
    const changed = page.locator('#change-outcome .alert');
    await changed.waitFor({ timeout: 60_000 });
    await idle(page);
    assert.match(await changed.getAttribute('class'), /success/, await changed.textContent());
    assert.match(await changed.textContent(), /New key saved to Google Drive/);
    assert.match(await changed.locator('[data-fact="version"]').textContent(), /New version of the Google Drive backup/);
    assert.equal(await changed.locator('[data-fact="old-key"]').textContent(), 'The old key was removed from Google Drive (1 file).');
    assert.match(await changed.locator('[data-fact="portal"]').textContent(), /Portal was not asked for anything/);
    assert.equal(await page.locator('#change-steps li.done').count(), 9, 'every step of the change done');
    const checked = page.locator('#check-list li[data-method="GDRIVE"]');
    await checked.locator('.badge').waitFor();
    await assertRecoverable(checked);
    await screenshot(page, 'change-3-drive-new-key');

    const files = await keyFiles();
    assert.equal(files.length, 1, 'one key file in Drive');
    assert.notEqual(files[0].id, oldFile.id, 'a new key file');
    assert.notEqual(files[0].content, oldFile.content, 'with another key');
    const after = await serverBackup(demo.stack, 'GDRIVE');
    assert.notEqual(after.body.current.backupId, before.body.current.backupId);
    assert.deepEqual(after.body.current.backupSharePairIds, before.body.current.backupSharePairIds);
    assert.deepEqual(await portalCalls(), callsBefore, 'Portal was asked nothing');

    // Check backups pressed: still green.
    await page.getByRole('button', { name: 'Check backups' }).click();
    await idle(page);
    assert.equal(await page.locator('#check-list li[data-method="GDRIVE"]').getAttribute('data-problems'), '');
    await page.context().close();

    const other = await openWallet();
    const recovered = await recover(other, 'GDRIVE');
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(other, '#recover-outcome'), backedUp);
    await other.context().close();
  });

  test('Drive down during a key change: the page says the current key still opens the backup, and it does', async () => {
    const page = await openWallet();
    await backUp(page, 'GDRIVE');
    const before = await serverBackup(demo.stack, 'GDRIVE');
    await control(demo.stack.driveUrl, 'down', { down: true });
    try {
      await page.locator('#change-form').getByRole('radio', { name: /Google Drive/ }).check();
      await page.locator('#change-form').getByRole('button', { name: 'New key' }).click();
      const failed = page.locator('#change-outcome .alert');
      await failed.waitFor({ timeout: 90_000 });
      await idle(page);
      assert.match(await failed.textContent(), /Key not changed/);
      assert.match(await failed.textContent(), /Until the server confirms a new version, the current key keeps opening the backup/);
    } finally {
      await control(demo.stack.driveUrl, 'down', { down: false });
    }
    assert.equal((await serverBackup(demo.stack, 'GDRIVE')).body.current.backupId, before.body.current.backupId, 'nothing new on the server');
    const recovered = await recover(page, 'GDRIVE');
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    await page.context().close();
  });
});
