// A web wallet's use of portal-backup, as the README shows it. The same file
// goes into every test app (Vite and webpack, `web` and `bundler` targets);
// each app's entry (web.ts or bundler.ts, copied in as src/main.ts) gets the
// wasm ready first. tsc checks this file against the package's .d.ts.
import {
  backupWallet,
  changeBackupKey,
  checkBackup,
  decryptShare,
  deleteBackup,
  encryptShare,
  listBackups,
  recoverWallet,
  type BackupCheck,
  type BackupMethod,
  type BackupOptions,
  type BackupResult,
  type BackupSummary,
  type ICloudOptions,
  type PortalBackupError,
  type ProgressEvent,
  type RecoveredWallet,
  type SealedShare,
} from 'portal-backup';

export interface CheckConfig {
  clientId: string;
  custodianId: string;
  portalToken: string;
  serverUrl: string;
  portalApiUrl: string;
  driveApiUrl: string;
  driveToken: string;
  /** The CloudKit stand-in: where, which container, and the user's first web auth token. */
  icloud: { apiUrl: string; container: string; environment: string; apiToken: string; webAuthToken: string };
  password: string;
  /** For the bare envelope functions. */
  sealedPlaintext: string;
  /** Per method, what Portal's SDK would hand over: {"<curve>": {"id", "share"}, ...}. */
  clientBackups: Record<BackupMethod, string>;
}

export interface MethodOutcome {
  backup: BackupResult;
  recovered: Pick<RecoveredWallet, 'clientBackup' | 'version' | 'method' | 'credentialId'>;
  checked: BackupCheck;
  /** changeBackupKey's result, then what a recovery with the new key gave and its check. */
  changed: BackupResult;
  recoveredAfterChange: string;
  checkedAfterChange: BackupCheck;
  steps: string[];
  /** Steps that failed along the way ("step: CODE (status)"), e.g. a Portal that was not told. */
  errors: string[];
}

export interface CheckOutcome {
  outcomes: Record<BackupMethod, MethodOutcome>;
  listed: BackupSummary[];
  /** What deleteBackup removed, per method, and the list after. */
  deleted: Record<BackupMethod, number>;
  listedAfterDelete: BackupSummary[];
  wrongPasswordCode: string;
  /** What decryptShare gave back for `sealedPlaintext`, sealed by encryptShare and kept as JSON. */
  sealedViaJson: string;
}

const status = document.getElementById('status') as HTMLParagraphElement;

// CloudKit web auth tokens are good for one request; the package reports each next one.
let webAuthToken = '';
function icloudOptions(config: CheckConfig): ICloudOptions {
  webAuthToken ||= config.icloud.webAuthToken;
  const { apiUrl, container, environment, apiToken } = config.icloud;
  return { apiUrl, container, environment, apiToken, getWebAuthToken: () => webAuthToken, onWebAuthToken: (next) => { webAuthToken = next; } };
}

async function roundTrip(config: CheckConfig, method: BackupMethod): Promise<MethodOutcome> {
  const steps: string[] = [];
  const errors: string[] = [];
  const options: BackupOptions = {
    method,
    clientId: config.clientId,
    custodianId: config.custodianId,
    portalToken: config.portalToken,
    serverUrl: config.serverUrl,
    portalApiUrl: config.portalApiUrl,
    driveApiUrl: config.driveApiUrl,
    getDriveToken: async () => config.driveToken,
    icloud: icloudOptions(config),
    password: method === 'PASSWORD' ? config.password : undefined,
    // PASSKEY: a new passkey for this page's host (the test's virtual authenticator).
    userDisplayName: method === 'PASSKEY' ? 'package test wallet' : undefined,
    clientBackup: config.clientBackups[method],
    onProgress: (event: ProgressEvent) => {
      if (event.phase === 'end') steps.push(event.step);
      if (event.phase === 'error') errors.push(`${event.step}: ${event.error?.code} (${event.error?.status ?? 'no status'}) ${event.error?.message}`);
    },
  };
  const backup = await backupWallet(options);
  const { clientBackup: _sealed, ...recoverOptions } = options;
  const recovered = await recoverWallet(recoverOptions);
  const credentialId: string | undefined = recovered.credentialId;
  const checked = await checkBackup({ ...recoverOptions, clientBackup: options.clientBackup });
  // A new key for the same backup: a new password, a new passkey, a fresh Drive or iCloud key.
  const newPassword = `${config.password} (changed)`;
  const changed = await changeBackupKey({ ...recoverOptions, newPassword: method === 'PASSWORD' ? newPassword : undefined });
  const afterChange = { ...recoverOptions, password: method === 'PASSWORD' ? newPassword : undefined };
  const recoveredAfterChange = (await recoverWallet(afterChange)).clientBackup;
  const checkedAfterChange = await checkBackup({ ...afterChange, clientBackup: options.clientBackup });
  return {
    backup,
    recovered: { clientBackup: recovered.clientBackup, version: recovered.version, method: recovered.method, credentialId },
    checked,
    changed,
    recoveredAfterChange,
    checkedAfterChange,
    steps,
    errors,
  };
}

/** A wallet that seals by itself and keeps the result as JSON, as apps keep data. */
async function sealViaJson(config: CheckConfig): Promise<string> {
  const plaintext = new TextEncoder().encode(config.sealedPlaintext);
  const stored = JSON.stringify(await encryptShare(plaintext, config.clientId, 'GDRIVE'));
  const sealed = JSON.parse(stored) as SealedShare;
  try {
    return new TextDecoder().decode(await decryptShare(sealed.cipherText, sealed.key, config.clientId, 'GDRIVE'));
  } catch (error) {
    return `${(error as PortalBackupError).code}: JSON kept ${stored}`;
  }
}

async function check(config: CheckConfig): Promise<CheckOutcome> {
  const outcomes = {
    GDRIVE: await roundTrip(config, 'GDRIVE'),
    ICLOUD: await roundTrip(config, 'ICLOUD'),
    PASSWORD: await roundTrip(config, 'PASSWORD'),
    PASSKEY: await roundTrip(config, 'PASSKEY'),
  };
  const server = { clientId: config.clientId, portalToken: config.portalToken, serverUrl: config.serverUrl };
  const listed = await listBackups(server);
  let wrongPasswordCode = 'none';
  try {
    await recoverWallet({ ...config, icloud: undefined, method: 'PASSWORD', password: `${config.password}!` });
  } catch (error) {
    wrongPasswordCode = (error as PortalBackupError).code;
  }
  const sealedViaJson = await sealViaJson(config);
  const deleted = {} as Record<BackupMethod, number>;
  for (const method of ['GDRIVE', 'ICLOUD', 'PASSWORD', 'PASSKEY'] as const) {
    const result = await deleteBackup({
      ...server, method, custodianId: config.custodianId, driveApiUrl: config.driveApiUrl,
      getDriveToken: async () => config.driveToken, icloud: icloudOptions(config),
    });
    deleted[method] = result.removedKeyFiles;
  }
  const listedAfterDelete = await listBackups(server);
  status.textContent = 'Backed up, recovered, checked, re-keyed and deleted with Google Drive, iCloud, a password and a passkey.';
  return { outcomes, listed, deleted, listedAfterDelete, wrongPasswordCode, sealedViaJson };
}

declare global {
  interface Window {
    portalBackupCheck: (config: CheckConfig) => Promise<CheckOutcome>;
  }
}

/** Called once the wasm is ready: the test drives the page through this. */
export function ready(): void {
  window.portalBackupCheck = check;
  status.textContent = 'Ready.';
}
