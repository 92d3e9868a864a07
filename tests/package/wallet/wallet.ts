// A web wallet's use of portal-backup, as the README shows it. The same file
// goes into every test app (Vite and webpack, `web` and `bundler` targets);
// each app's entry (web.ts or bundler.ts, copied in as src/main.ts) gets the
// wasm ready first. tsc checks this file against the package's .d.ts.
import {
  backupWallet,
  decryptShare,
  encryptShare,
  listBackups,
  recoverWallet,
  type BackupMethod,
  type BackupOptions,
  type BackupResult,
  type BackupSummary,
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
  password: string;
  /** For the bare envelope functions. */
  sealedPlaintext: string;
  /** Per method, what Portal's SDK would hand over: {"<curve>": {"id", "share"}, ...}. */
  clientBackups: Record<BackupMethod, string>;
}

export interface MethodOutcome {
  backup: BackupResult;
  recovered: Pick<RecoveredWallet, 'clientBackup' | 'version' | 'method' | 'credentialId'>;
  steps: string[];
  /** Steps that failed along the way ("step: CODE (status)"), e.g. a Portal that was not told. */
  errors: string[];
}

export interface CheckOutcome {
  outcomes: Record<BackupMethod, MethodOutcome>;
  listed: BackupSummary[];
  wrongPasswordCode: string;
  /** What decryptShare gave back for `sealedPlaintext`, sealed by encryptShare and kept as JSON. */
  sealedViaJson: string;
}

const status = document.getElementById('status') as HTMLParagraphElement;

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
  return { backup, recovered: { clientBackup: recovered.clientBackup, version: recovered.version, method: recovered.method, credentialId }, steps, errors };
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
    PASSWORD: await roundTrip(config, 'PASSWORD'),
    PASSKEY: await roundTrip(config, 'PASSKEY'),
  };
  const listed = await listBackups({ clientId: config.clientId, portalToken: config.portalToken, serverUrl: config.serverUrl });
  let wrongPasswordCode = 'none';
  try {
    await recoverWallet({ ...config, method: 'PASSWORD', password: `${config.password}!` });
  } catch (error) {
    wrongPasswordCode = (error as PortalBackupError).code;
  }
  const sealedViaJson = await sealViaJson(config);
  status.textContent = 'Backed up and recovered with Google Drive, a password and a passkey.';
  return { outcomes, listed, wrongPasswordCode, sealedViaJson };
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
