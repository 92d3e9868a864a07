// The demo wallet in real Chromium against the demo's own stack (Worker in
// wrangler dev --local, Drive and Portal stand-ins): back up, then recover
// on a "new device" (a fresh browser context, nothing in local storage).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEMO_DRIVE_TOKEN } from '../../scripts/lib/stack.mjs';
import { assertRecoverable, control, idle, screenshot, useDemo } from './support.mjs';

const PASSWORD = 'correct horse battery staple';

// A new device: `openWallet()`, a fresh browser context with empty storage.
const demo = useDemo();
const openWallet = () => demo.openWallet();

/** { curve: fingerprint } as a list of `li` with a curve and a fingerprint. */
async function sharesIn(page, selector) {
  const out = {};
  for (const item of await page.locator(`${selector} li`).all()) {
    const curve = await item.locator('.curve').textContent();
    out[curve] = await item.locator('.fingerprint').textContent();
  }
  return out;
}

async function choose(page, form, method, password) {
  const section = page.locator(form);
  await section.getByRole('radio', { name: method === 'GDRIVE' ? /Google Drive/ : /Password/ }).check();
  if (password !== undefined) {
    await section.getByRole('textbox', { name: 'Backup password' }).fill(password);
    // A backup asks for the password twice (nothing can reset it).
    if (form === '#backup-form') await section.getByRole('textbox', { name: 'Type it again' }).fill(password);
  }
}

async function backUp(page, method, password) {
  await choose(page, '#backup-form', method, password);
  await page.getByRole('button', { name: 'Back up wallet' }).click();
  const outcome = page.locator('#backup-outcome .alert');
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

async function recover(page, method, password) {
  await choose(page, '#recover-form', method, password);
  await page.getByRole('button', { name: 'Recover wallet' }).click();
  const outcome = page.locator('#recover-outcome .alert');
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

describe('demo wallet', () => {
  test('backs up with Google Drive and recovers the same shares on a new device', async () => {
    const first = await openWallet();
    assert.match(await first.locator('#environment').textContent(), /local stand-in/);
    const backedUp = await sharesIn(first, '#device-shares');
    assert.deepEqual(Object.keys(backedUp).sort(), ['ED25519', 'SECP256K1']);

    const outcome = await backUp(first, 'GDRIVE');
    assert.match(await outcome.textContent(), /Backed up with Google Drive/);
    assert.match(await outcome.textContent(), /Portal was told/);
    assert.equal(await first.locator('#backup-steps li').count(), 7);
    assert.equal(await first.locator('#backup-steps li.done').count(), 6, 'every needed backup step shows done');
    // A first backup leaves no older key files behind to remove.
    assert.match(await first.locator('#backup-steps li.skipped').textContent(), /Remove old keys.*not needed/);

    const row = first.locator('#backup-list tr[data-method="GDRIVE"]');
    assert.match(await row.textContent(), /Google Drive.*Yes.*Complete/);
    // Portal's half arrives at the Worker's webhook after it is told.
    const custodian = first.locator('#custodian-list li[data-method="GDRIVE-SECP256K1"]');
    await custodian.waitFor();
    assert.match(await custodian.textContent(), /Stored on the server/);
    assert.match(await first.locator('#custodian-list li[data-method="GDRIVE-ED25519"]').textContent(), /Stored on the server/);
    await screenshot(first, '1-backed-up-gdrive');
    await first.context().close();

    const second = await openWallet();
    const recovered = await recover(second, 'GDRIVE');
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(second, '#recover-outcome'), backedUp);
    assert.equal(await second.locator('#recover-steps li.done').count(), 3);
    await screenshot(second, '2-recovered-gdrive');
    await second.context().close();
  });

  test('backs up with a password; a wrong password is refused clearly, the right one recovers', async () => {
    const first = await openWallet();
    const backedUp = await sharesIn(first, '#device-shares');
    const outcome = await backUp(first, 'PASSWORD', PASSWORD);
    assert.match(await outcome.textContent(), /Backed up with Password/);
    assert.match(await first.locator('#backup-list tr[data-method="PASSWORD"]').textContent(), /Password.*Yes.*Complete/);
    await first.context().close();

    const second = await openWallet();
    const wrong = await recover(second, 'PASSWORD', 'not the password');
    assert.match(await wrong.textContent(), /Recovery failed/);
    assert.match(await wrong.textContent(), /That password does not open this backup/);
    assert.equal(await second.locator('#recover-outcome [data-curve]').count(), 0, 'no shares shown after a wrong password');
    await screenshot(second, '3-wrong-password');

    const right = await recover(second, 'PASSWORD', PASSWORD);
    assert.match(await right.textContent(), /the recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(second, '#recover-outcome'), backedUp);
    await screenshot(second, '4-recovered-password');
    await second.context().close();
  });

  test('Drive failing during a backup shows the error, and the previous backup still recovers', async () => {
    const page = await openWallet();
    const original = await sharesIn(page, '#device-shares');
    assert.match(await (await backUp(page, 'GDRIVE')).textContent(), /Backed up with Google Drive/);

    // New shares on this device, then a backup while Drive is down.
    await page.getByRole('button', { name: 'Generate new shares' }).click();
    await page.locator('#generation', { hasText: 'regenerated 1 time' }).waitFor();
    const rotated = await sharesIn(page, '#device-shares');
    assert.notDeepEqual(rotated, original);

    await control(demo.stack.driveUrl, 'down', { down: true });
    try {
      const failed = await backUp(page, 'GDRIVE');
      assert.match(await failed.textContent(), /Backup failed/);
      assert.match(await failed.textContent(), /Failed at: Save the key to Google Drive/);
      assert.equal(await page.locator('#backup-steps li.failed').count(), 1);
      await screenshot(page, '5-drive-down-backup-failed');
    } finally {
      await control(demo.stack.driveUrl, 'down', { down: false });
    }
    // This device now holds newer shares than any complete backup.
    const older = await recover(page, 'GDRIVE');
    assert.match(await older.textContent(), /Wallet recovered from an older backup/);
    assert.deepEqual(await sharesIn(page, '#recover-outcome'), original);
    await page.context().close();

    const fresh = await openWallet();
    const recovered = await recover(fresh, 'GDRIVE');
    assert.match(await recovered.textContent(), /equal the backed-up ones/);
    assert.deepEqual(await sharesIn(fresh, '#recover-outcome'), original, 'the last complete backup comes back');
    await screenshot(fresh, '6-recovered-previous');
    await fresh.context().close();
  });

  test('Check backups is green after a backup, and names the missing key once it is deleted from Drive', async () => {
    const page = await openWallet();
    assert.match(await (await backUp(page, 'GDRIVE')).textContent(), /Backed up with Google Drive/);
    // Portal's half reaches the Worker after Portal is told; the panel reads it from the server.
    await page.locator('#custodian-list li[data-method="GDRIVE-SECP256K1"]').waitFor({ timeout: 15_000 });
    await page.locator('#custodian-list li[data-method="GDRIVE-ED25519"]').waitFor({ timeout: 15_000 });

    const check = async () => {
      await page.getByRole('button', { name: 'Check backups' }).click();
      await idle(page);
      return page.locator('#check-list li[data-method="GDRIVE"]');
    };
    const green = await check();
    await assertRecoverable(green);
    await screenshot(page, '7-check-green');

    // The key file goes from the user's Drive, through Drive's own API.
    const auth = { Authorization: `Bearer ${DEMO_DRIVE_TOKEN}` };
    const { files } = await (await fetch(`${demo.stack.driveUrl}/drive/v3/files?spaces=appDataFolder`, { headers: auth })).json();
    assert.equal(files.length, 1);
    const deleted = await fetch(`${demo.stack.driveUrl}/drive/v3/files/${files[0].id}`, { method: 'DELETE', headers: auth });
    assert.equal(deleted.status, 204);

    const red = await check();
    assert.match(await red.textContent(), /Not recoverable/);
    assert.equal(await red.getAttribute('data-problems'), 'KEY_NOT_FOUND');
    assert.match(await red.textContent(), /No backup key was found in this Google Drive/);
    await screenshot(page, '8-check-key-missing');
    await page.context().close();
  });

  test('passwords: asked twice, cleared after the backup; stale output goes; Check names a wrong password and an older backup', async () => {
    const page = await openWallet();
    const form = page.locator('#backup-form');
    await form.getByRole('radio', { name: /Password/ }).check();
    // An empty field is not "too short", and two different passwords are refused.
    await page.getByRole('button', { name: 'Back up wallet' }).click();
    assert.match(await page.locator('#backup-outcome .alert').textContent(), /Enter a backup password/);
    await form.getByRole('textbox', { name: 'Backup password' }).fill(PASSWORD);
    await form.getByRole('textbox', { name: 'Type it again' }).fill(`${PASSWORD}!`);
    await page.getByRole('button', { name: 'Back up wallet' }).click();
    assert.match(await page.locator('#backup-outcome .alert').textContent(), /The two passwords differ/);

    const done = await backUp(page, 'PASSWORD', PASSWORD);
    assert.match(await done.textContent(), /Backed up with Password/);
    assert.equal(await form.getByRole('textbox', { name: 'Backup password' }).inputValue(), '', 'the password leaves the page');
    assert.equal(await form.getByRole('textbox', { name: 'Type it again' }).inputValue(), '');
    // A new attempt that fails at once: no ticked steps or green box from the last one above the error.
    await page.getByRole('button', { name: 'Back up wallet' }).click();
    assert.match(await page.locator('#backup-outcome').textContent(), /Enter a backup password/);
    assert.equal(await page.locator('#backup-outcome .alert.success').count(), 0);
    assert.equal(await page.locator('#backup-steps li').count(), 0);
    // Another method chosen: the last method's output goes too.
    await backUp(page, 'PASSWORD', PASSWORD);
    await form.getByRole('radio', { name: /Google Drive/ }).check();
    assert.equal(await page.locator('#backup-steps li').count(), 0);
    assert.equal(await page.locator('#backup-outcome').textContent(), '');
    await page.locator('#custodian-list li[data-method="PASSWORD-ED25519"]').waitFor({ timeout: 15_000 });
    await page.locator('#custodian-list li[data-method="PASSWORD-SECP256K1"]').waitFor({ timeout: 15_000 });

    const checkForm = page.locator('#check-form');
    const check = async (password) => {
      await checkForm.getByRole('textbox', { name: /Backup password/ }).fill(password);
      await page.getByRole('button', { name: 'Check backups' }).click();
      await idle(page);
      return page.locator('#check-list li[data-method="PASSWORD"]');
    };
    const wrong = await check('not the password');
    assert.equal(await wrong.getAttribute('data-problems'), 'WRONG_PASSWORD');
    assert.match(await wrong.textContent(), /Wrong password/);
    assert.match(await wrong.textContent(), /The password you typed is not this backup's password/);
    assert.doesNotMatch(await wrong.textContent(), /Not recoverable/);
    await screenshot(page, '9-check-wrong-password');

    // New shares on this device: the backup still recovers, to the older shares; Check says so in recovery's words.
    await page.getByRole('button', { name: 'Generate new shares' }).click();
    await page.locator('#generation', { hasText: 'regenerated 1 time' }).waitFor();
    const older = await check(PASSWORD);
    assert.equal(await older.getAttribute('data-problems'), 'BACKUP_OUTDATED');
    assert.match(await older.textContent(), /Recoverable: an older backup/);
    assert.doesNotMatch(await older.textContent(), /Not recoverable/);
    const recovered = await recover(page, 'PASSWORD', PASSWORD);
    assert.match(await recovered.textContent(), /Wallet recovered from an older backup/);
    await screenshot(page, '10-check-older-backup');
    await page.context().close();
  });
});
