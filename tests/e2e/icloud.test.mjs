// The ICLOUD method on the demo page, in Chromium against the demo's stack:
// the key goes to the CloudKit stand-in (tests/standins/icloud.mjs), and the
// user signs in on its sign-in page, a popup that hands the page a web auth
// token (as Apple's sign-in window does). Asserted as a user sees it: the
// sign-in step, what each flow says, the backups list and the Check backups
// panel; behind the page, the key records in the user's iCloud.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEMO_ICLOUD } from '../../scripts/lib/stack.mjs';
import { assertRecoverable, control, idle, screenshot, serverBackup, sharesIn, signInToICloud, useDemo } from './support.mjs';

// A new device: `openWallet()`, a fresh browser context with empty storage.
const demo = useDemo();
const openWallet = () => demo.openWallet({ acceptDialogs: true });

/** The key records in alice's iCloud. */
const keyRecords = async () => (await control(demo.stack.icloudUrl, 'records?user=alice')).filter((r) => r.recordType === 'PortalBackupKey');

/**
 * Runs a form's action for iCloud: picks iCloud, clicks `button`, signs in
 * on the sign-in window if the page opens one (`signIn`), and waits for the
 * outcome.
 */
async function run(page, form, button, { signIn = false, whileOpen } = {}) {
  await page.locator(form).getByRole('radio', { name: /iCloud/ }).check();
  const click = () => page.locator(form).getByRole('button', { name: button }).click();
  if (signIn) await signInToICloud(page, click, { whileOpen });
  else await click();
  const outcome = page.locator(`${form.replace('-form', '-outcome')} .alert`);
  await outcome.waitFor({ timeout: 60_000 });
  await idle(page);
  return outcome;
}

const backUp = (page, options) => run(page, '#backup-form', 'Back up wallet', options);
const recover = (page, options) => run(page, '#recover-form', 'Recover wallet', options);

async function check(page) {
  await page.getByRole('button', { name: 'Check backups' }).click();
  await idle(page);
  return page.locator('#check-list li[data-method="ICLOUD"]');
}

describe('ICLOUD backup', () => {
  test('signs in to iCloud, backs up, recovers the same shares on a new device, and Check is green', async () => {
    const first = await openWallet();
    assert.match(await first.locator('#environment').textContent(), /iCloud: local stand-in/);
    const backedUp = await sharesIn(first, '#device-shares');

    const outcome = await backUp(first, {
      signIn: true,
      whileOpen: async (popup) => {
        assert.match(await popup.title(), /Sign In with your Apple ID/);
        const step = first.locator('#backup-outcome [data-wait="icloud"]');
        assert.match(await step.textContent(), /Finish signing in with your Apple ID in the window that opened/);
        assert.equal(await step.getByRole('button', { name: 'Sign in with Apple (iCloud stand-in)' }).count(), 1);
        await screenshot(first, 'icloud-1-signing-in');
      },
    });
    assert.match(await outcome.getAttribute('class'), /success/, await outcome.textContent());
    assert.match(await outcome.textContent(), /Backed up with iCloud/);
    assert.match(await outcome.textContent(), /Portal was told/);
    assert.equal(await first.locator('#backup-outcome [data-wait="icloud"]').count(), 0, 'the sign-in step is gone');
    assert.equal(await first.locator('#backup-steps li[data-step="storeKey"]').textContent(), 'Save the key to iCloud');
    assert.equal(await first.locator('#backup-steps li.done').count(), 6);
    assert.match(await first.locator('#backup-steps li.skipped').textContent(), /Remove old keys from iCloud.*not needed/);
    assert.equal((await keyRecords()).length, 1, 'one key record in iCloud');

    assert.match(await first.locator('#backup-list tr[data-method="ICLOUD"]').textContent(), /iCloud.*Yes.*Complete/);
    const custodian = first.locator('#custodian-list li[data-method="ICLOUD-SECP256K1"]');
    await custodian.waitFor({ timeout: 15_000 });
    assert.match(await custodian.textContent(), /iCloud · SECP256K1.*Stored on the server/);
    await first.locator('#custodian-list li[data-method="ICLOUD-ED25519"]').waitFor({ timeout: 15_000 });
    await screenshot(first, 'icloud-2-backed-up');
    await first.context().close();

    // A new device: signed in afresh, the key read from iCloud.
    const second = await openWallet();
    const recovered = await recover(second, { signIn: true });
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    assert.match(await recovered.textContent(), /\(iCloud\)/);
    assert.deepEqual(await sharesIn(second, '#recover-outcome'), backedUp);
    assert.equal(await second.locator('#recover-steps li[data-step="fetchKey"]').textContent(), 'Read the key from iCloud');
    assert.equal(await second.locator('#recover-steps li.done').count(), 3);

    // Check backups (iCloud ticked by default): signed in already, no second sign-in.
    const popups = [];
    second.on('popup', (popup) => popups.push(popup));
    const row = await check(second);
    await assertRecoverable(row, /iCloud.*Recoverable/);
    assert.equal(popups.length, 0, 'no sign-in window for the check');
    await screenshot(second, 'icloud-3-recovered-check-green');
    await second.context().close();
  });

  test('signed out of iCloud mid-session: the page asks to sign in again and goes on; cancelling says so', async () => {
    const page = await openWallet();
    await backUp(page, { signIn: true });
    await page.locator('#custodian-list li[data-method="ICLOUD-ED25519"]').waitFor({ timeout: 15_000 });

    // Apple revokes the session: the token the page holds is refused (AUTHENTICATION_REQUIRED).
    await control(demo.stack.icloudUrl, 'revoke', { user: 'alice' });
    await page.getByRole('button', { name: 'Check backups' }).click();
    const step = page.locator('#check-outcome [data-wait="icloud"]');
    await step.waitFor({ timeout: 30_000 });
    assert.match(await step.textContent(), /iCloud asks you to sign in again \(your last sign-in expired, or you were signed out\)/);
    await screenshot(page, 'icloud-4-sign-in-again');
    await signInToICloud(page, () => step.getByRole('button', { name: 'Sign in with Apple (iCloud stand-in)' }).click());
    await idle(page);
    const row = page.locator('#check-list li[data-method="ICLOUD"]');
    await assertRecoverable(row);
    assert.equal(await step.count(), 0, 'the sign-in step is gone');

    // Revoked again, and this time the user cancels the sign-in.
    await control(demo.stack.icloudUrl, 'revoke', { user: 'alice' });
    await page.locator('#recover-form').getByRole('radio', { name: /iCloud/ }).check();
    await page.getByRole('button', { name: 'Recover wallet' }).click();
    const again = page.locator('#recover-outcome [data-wait="icloud"]');
    await again.waitFor({ timeout: 30_000 });
    await again.getByRole('button', { name: 'Cancel' }).click();
    const failed = page.locator('#recover-outcome .alert');
    await failed.waitFor({ timeout: 30_000 });
    await idle(page);
    assert.match(await failed.textContent(), /Recovery failed/);
    assert.match(await failed.textContent(), /The iCloud sign-in was cancelled or did not finish/);
    await page.context().close();
  });

  test('iCloud errors in plain words: iCloud not answering, storage full, the key record gone', async () => {
    const page = await openWallet();
    await backUp(page, { signIn: true });

    // iCloud failing (TRY_AGAIN_LATER on every request, through the retries).
    await control(demo.stack.icloudUrl, 'fail', { serverErrorCode: 'TRY_AGAIN_LATER', retryAfter: 0, count: 50 });
    try {
      const down = await recover(page);
      assert.match(await down.textContent(), /Recovery failed/);
      assert.match(await down.textContent(), /iCloud is not answering/);
      assert.match(await down.textContent(), /Failed at: Read the key from iCloud/);
    } finally {
      await control(demo.stack.icloudUrl, 'heal', {});
    }

    // A full iCloud: the backup fails at saving the key; the last complete one still recovers.
    await control(demo.stack.icloudUrl, 'quota', { user: 'alice', bytes: 0 });
    const full = await backUp(page);
    assert.match(await full.textContent(), /Backup failed/);
    assert.match(await full.textContent(), /Your iCloud storage is full/);
    assert.match(await full.textContent(), /Failed at: Save the key to iCloud/);
    await screenshot(page, 'icloud-5-quota-exceeded');
    await control(demo.stack.icloudUrl, 'quota', { user: 'alice', bytes: null });
    const recovered = await recover(page);
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);

    // Backed up again, then the key record removed from the user's iCloud, through CloudKit's own API.
    assert.match(await (await backUp(page)).textContent(), /Backed up with iCloud/);
    // The key record removed from the user's iCloud, through CloudKit's own API.
    const { token } = await control(demo.stack.icloudUrl, 'tokens', { user: 'alice' });
    const [record] = await keyRecords();
    const query = new URLSearchParams({ ckAPIToken: DEMO_ICLOUD.apiToken, ckWebAuthToken: token });
    const removed = await fetch(`${demo.stack.icloudUrl}/database/1/${DEMO_ICLOUD.container}/${DEMO_ICLOUD.environment}/private/records/modify?${query}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ operations: [{ operationType: 'forceDelete', record: { recordName: record.recordName } }] }),
    });
    assert.equal(removed.status, 200);
    assert.equal((await keyRecords()).length, 0);
    const row = await check(page);
    assert.match(await row.textContent(), /Not recoverable/);
    assert.equal(await row.getAttribute('data-problems'), 'KEY_NOT_FOUND');
    assert.match(await row.textContent(), /No backup key was found in this iCloud account/);
    await screenshot(page, 'icloud-6-key-missing');
    await page.context().close();
  });

  test('a new iCloud key: a new record, the old one removed, Check green; then Delete removes both halves', async () => {
    const page = await openWallet();
    const backedUp = await sharesIn(page, '#device-shares');
    await backUp(page, { signIn: true });
    await page.locator('#custodian-list li[data-method="ICLOUD-ED25519"]').waitFor({ timeout: 15_000 });
    await page.locator('#custodian-list li[data-method="ICLOUD-SECP256K1"]').waitFor({ timeout: 15_000 });
    const [oldRecord] = await keyRecords();
    const before = await serverBackup(demo.stack, 'ICLOUD');
    const callsBefore = await control(demo.stack.portalUrl, 'calls');

    await page.locator('#backup-list tr[data-method="ICLOUD"]').getByRole('button', { name: 'Change key' }).click();
    assert.equal(await page.locator('#change-form').getByRole('radio', { name: /iCloud/ }).isChecked(), true);
    await page.locator('#change-form').getByRole('button', { name: 'New key' }).click();
    const changed = page.locator('#change-outcome .alert');
    await changed.waitFor({ timeout: 60_000 });
    await idle(page);
    assert.match(await changed.getAttribute('class'), /success/, await changed.textContent());
    assert.match(await changed.textContent(), /New key saved to iCloud/);
    assert.match(await changed.locator('[data-fact="version"]').textContent(), /New version of the iCloud backup/);
    assert.equal(await changed.locator('[data-fact="old-key"]').textContent(), 'The old key was removed from iCloud (1 record).');
    assert.match(await changed.locator('[data-fact="portal"]').textContent(), /Portal was not asked for anything/);
    assert.equal(await page.locator('#change-steps li.done').count(), 9);
    const checked = page.locator('#check-list li[data-method="ICLOUD"]');
    await checked.locator('.badge').waitFor();
    await assertRecoverable(checked);
    await screenshot(page, 'icloud-7-new-key');

    const records = await keyRecords();
    assert.equal(records.length, 1, 'one key record');
    assert.notEqual(records[0].recordName, oldRecord.recordName, 'a new record');
    const after = await serverBackup(demo.stack, 'ICLOUD');
    assert.notEqual(after.body.current.backupId, before.body.current.backupId);
    assert.deepEqual(after.body.current.backupSharePairIds, before.body.current.backupSharePairIds);
    assert.deepEqual(await control(demo.stack.portalUrl, 'calls'), callsBefore, 'Portal was asked nothing');
    await page.context().close();

    // Another device recovers with the new key, then deletes the backup.
    const other = await openWallet();
    const recovered = await recover(other, { signIn: true });
    assert.match(await recovered.textContent(), /the recovered shares equal the backed-up ones/);
    assert.deepEqual(await sharesIn(other, '#recover-outcome'), backedUp);
    await other.locator('#backup-list tr[data-method="ICLOUD"]').getByRole('button', { name: 'Delete' }).click();
    await other.locator('#backup-list tr[data-method="ICLOUD"]').waitFor({ state: 'detached', timeout: 30_000 });
    await idle(other);
    assert.equal((await keyRecords()).length, 0, 'the key record is gone from iCloud');
    assert.equal((await serverBackup(demo.stack, 'ICLOUD')).status, 404, 'and the server copy');
    await other.context().close();
  });
});
