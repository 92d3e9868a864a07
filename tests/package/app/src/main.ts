// A web wallet's use of portal-backup, as its README shows it: the package
// comes from npm, Vite bundles it, the wasm is fetched from the URL Vite
// gives it. tsc --noEmit checks this file against the package's .d.ts.
import init, {
  backupWallet,
  listBackups,
  recoverWallet,
  type BackupMethod,
  type BackupOptions,
  type BackupResult,
  type BackupSummary,
  type PortalBackupError,
  type ProgressEvent,
  type RecoveredWallet,
} from 'portal-backup';
import wasmUrl from 'portal-backup/portal_backup_bg.wasm?url';

export interface CheckConfig {
  clientId: string;
  custodianId: string;
  portalToken: string;
  serverUrl: string;
  portalApiUrl: string;
  driveApiUrl: string;
  driveToken: string;
  password: string;
  /** Per method, what Portal's SDK would hand over: {"<curve>": {"id", "share"}, ...}. */
  clientBackups: Record<BackupMethod, string>;
}

export interface MethodOutcome {
  backup: BackupResult;
  recovered: Pick<RecoveredWallet, 'clientBackup' | 'version' | 'method'>;
  steps: string[];
}

export interface CheckOutcome {
  outcomes: Record<BackupMethod, MethodOutcome>;
  listed: BackupSummary[];
  wrongPasswordCode: string;
}

const status = document.getElementById('status') as HTMLParagraphElement;

async function roundTrip(config: CheckConfig, method: BackupMethod): Promise<MethodOutcome> {
  const steps: string[] = [];
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
    clientBackup: config.clientBackups[method],
    onProgress: (event: ProgressEvent) => {
      if (event.phase === 'end') steps.push(event.step);
    },
  };
  const backup = await backupWallet(options);
  const { clientBackup: _sealed, ...recoverOptions } = options;
  const recovered = await recoverWallet(recoverOptions);
  return { backup, recovered: { clientBackup: recovered.clientBackup, version: recovered.version, method: recovered.method }, steps };
}

async function check(config: CheckConfig): Promise<CheckOutcome> {
  await init({ module_or_path: wasmUrl });
  const outcomes = {
    GDRIVE: await roundTrip(config, 'GDRIVE'),
    PASSWORD: await roundTrip(config, 'PASSWORD'),
  };
  const listed = await listBackups({ clientId: config.clientId, portalToken: config.portalToken, serverUrl: config.serverUrl });
  let wrongPasswordCode = 'none';
  try {
    await recoverWallet({ ...config, method: 'PASSWORD', password: `${config.password}!` });
  } catch (error) {
    wrongPasswordCode = (error as PortalBackupError).code;
  }
  status.textContent = 'Backed up and recovered with Google Drive and a password.';
  return { outcomes, listed, wrongPasswordCode };
}

declare global {
  interface Window {
    portalBackupCheck: (config: CheckConfig) => Promise<CheckOutcome>;
  }
}
window.portalBackupCheck = check;
status.textContent = 'Ready.';
