// The page bench/walltime.mjs drives: the package's backupWallet /
// recoverWallet / checkBackup / changeBackupKey (loaded from ?pkg=, default
// pkg/web as it is) and Portal's order of calls (portal-order.js), each
// timed from the call to its answer on the page's clock, with every
// progress event. ICLOUD: the token functions an app gives the package
// (icloud-session.js).
import * as portalOrder from './portal-order.js';
import { icloudFor, icloudSignIns } from './icloud-session.js';

const pkgUrl = new URL(location.href).searchParams.get('pkg') ?? '/pkg/web/portal_backup.js';
const pkg = await import(pkgUrl);
await pkg.default();

const clock = () => performance.timeOrigin + performance.now();
const CALLS = { backup: 'backupWallet', recover: 'recoverWallet', check: 'checkBackup', change: 'changeBackupKey' };

/** Runs one flow; answers {t0, t1, events, result, icloudSignIns}, times in ms since the epoch (the page's clock). */
window.runFlow = async (side, flow, options) => {
  const events = [];
  const mark = (step, phase) => events.push({ step, phase, at: clock() });
  const withPage = { ...options, getDriveToken: () => options.driveToken, ...(options.icloud ? { icloud: icloudFor(options) } : {}),
    onProgress: (e) => events.push({ step: e.step, phase: e.phase, at: clock() }) };
  const signIns = icloudSignIns();
  const t0 = clock();
  let result;
  if (side === 'portal') result = await portalOrder[flow](options, mark);
  else if (CALLS[flow]) result = await pkg[CALLS[flow]](withPage);
  else throw new Error(`unknown flow ${flow}`);
  const t1 = clock();
  return { t0, t1, events, result: JSON.parse(JSON.stringify(result)), icloudSignIns: icloudSignIns() - signIns };
};
window.benchReady = true;
