//! What a wallet passes in and gets back, typed for TypeScript.

use alloc::string::String;
use js_sys::Function;
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use super::js;
use crate::Error;
use crate::flow::Step;
use crate::retry::RetryPolicy;
use crate::wire::{METHOD_GDRIVE, METHOD_ICLOUD, METHOD_PASSKEY, METHOD_PASSWORD};

#[wasm_bindgen(typescript_custom_section)]
const TS_OPTIONS_SECTION: &'static str = TS_OPTIONS;

/// The package's TypeScript for what a wallet passes in and gets back.
#[allow(dead_code)] // read by the section above, which rustc does not count
pub(super) const TS_OPTIONS: &str = r#"
/**
 * Where the backup key comes from: the user's Google Drive, a password, or
 * the user's passkey (WebAuthn PRF: Chromium 116+, Safari 18+, Android).
 */
export type BackupMethod = "GDRIVE" | "ICLOUD" | "PASSWORD" | "PASSKEY";

/**
 * ICLOUD: the key in a record of the user's iCloud private database, through
 * CloudKit Web Services. The app keeps its own Apple sign-in (CloudKit JS's,
 * or its own) and hands the package the web auth token it got.
 */
export interface ICloudOptions {
  /** The CloudKit container, e.g. "iCloud.com.example.wallet". */
  container: string;
  /** "development" or "production". */
  environment: string;
  /** The container's API token (CloudKit Dashboard), for this page's origin. */
  apiToken: string;
  /**
   * The user's web auth token. Called once per flow with no argument: give
   * the newest one `onWebAuthToken` reported (a token is good for one
   * request). Called once more with `{ signInAgain: true }` when CloudKit
   * refused the last one (AUTHENTICATION_REQUIRED): sign the user in again.
   */
  getWebAuthToken: (request?: { signInAgain: true }) => Promise<string> | string;
  /** Told each new web auth token CloudKit hands back; keep the last one. */
  onWebAuthToken?: (token: string) => void;
  /** Default "https://api.apple-cloudkit.com". */
  apiUrl?: string;
}

export type FlowStep =
  | "encrypt" | "storeKey" | "storeShare" | "checkStorage" | "notifyPortal"
  | "confirm" | "removeOldKeys" | "fetchKey" | "fetchShare" | "decrypt";

export interface ProgressEvent {
  step: FlowStep;
  phase: "start" | "end" | "error";
  error?: PortalBackupError;
}

/** Bounds for retrying rate limits, 5xx and network failures. */
export interface RetryOptions {
  /** Attempts in all, the first included (default 5). */
  maxAttempts?: number;
  /** Upper bound of the first wait in ms, doubled each retry (default 500). */
  baseDelayMs?: number;
  /** Cap of a single wait in ms (default 8000). */
  maxDelayMs?: number;
  /** No retry starts after this many ms since the first attempt (default 15000). */
  maxTotalMs?: number;
}

/** What every call needs to reach the app's server. */
export interface ServerOptions {
  /** Portal's clientId; the server's answer must be about this client. */
  clientId: string;
  /** Portal Client API key or Client Session Token (Bearer for the server and Portal). */
  portalToken: string;
  /** The app's Worker, e.g. "https://backup.example.com". */
  serverUrl: string;
  retry?: RetryOptions;
  /** Abort a single request after this many ms (default 30000). */
  timeoutMs?: number;
}

export interface MethodOptions extends ServerOptions {
  method: BackupMethod;
  /** Portal's custodian id: names the key file in Drive or iCloud. Required for GDRIVE and ICLOUD. */
  custodianId?: string;
  /** Default "https://api.portalhq.io". */
  portalApiUrl?: string;
  /** Default "https://www.googleapis.com". */
  driveApiUrl?: string;
  /**
   * GDRIVE: an OAuth access token with the drive.appdata scope (Google
   * Identity Services token model). Called once per flow, and once more,
   * with `{ signInAgain: true }`, if Drive says the token expired. Requests
   * that need it at the same moment share one call.
   */
  getDriveToken?: (request?: { signInAgain: true }) => Promise<string> | string;
  /** ICLOUD: the CloudKit container and the user's web auth token. */
  icloud?: ICloudOptions;
  /** PASSWORD: the user's backup password. */
  password?: string;
  /**
   * PASSKEY: the WebAuthn relying party id, the page's host or a
   * registrable suffix of it. Default: the page's host name. The PRF salt
   * binds it, so backup and recovery must use the same one.
   */
  rpId?: string;
  /**
   * PASSKEY: how long the passkey prompt may wait for the user, in ms
   * (default 120000); then the call rejects with PASSKEY_TIMEOUT.
   */
  passkeyTimeoutMs?: number;
  /** PASSKEY: the name a new passkey shows in the user's passkey manager. Default "Wallet backup". */
  userDisplayName?: string;
  /**
   * PASSKEY, backup only: the passkey to use (base64url, the `credentialId`
   * of an earlier result). Without it, backupWallet creates a new passkey.
   */
  credentialId?: string;
  onProgress?: (event: ProgressEvent) => void;
}

export interface BackupOptions extends MethodOptions {
  /**
   * The plaintext Portal's SDK builds:
   * {"SECP256K1": {"id": "<backupSharePairId>", "share": "..."}, "ED25519": {...}}.
   */
  clientBackup: string | Uint8Array;
}

export interface BackupResult {
  method: BackupMethod;
  /** The server's id of this version. */
  backupId: string;
  backupSharePairIds: string[];
  /** When the server stored it (RFC 3339). */
  createdAt: string;
  /** Portal was told both halves are stored. If false, call notifyPortal later. */
  portalNotified: boolean;
  /** GDRIVE: the Drive file id of the new key file. */
  keyFileId?: string;
  /** GDRIVE: older key files removed after the new backup was confirmed. */
  removedKeyFiles: number;
  /** PASSKEY: the passkey's credential id (base64url); pass it as `credentialId` to back up with it again. */
  credentialId?: string;
}

export interface ChangeKeyOptions extends MethodOptions {
  /**
   * PASSWORD: the new password (`password` is the current one, which opens
   * the backup). PASSKEY: `credentialId` names the passkey to move to (none:
   * a new passkey); the current one is read from the backup. GDRIVE and
   * ICLOUD: a fresh random key in a new key file or record.
   */
  newPassword?: string;
}

export interface RecoveredWallet {
  method: BackupMethod;
  /** The exact plaintext that was backed up, as text. */
  clientBackup: string;
  /** The same, as bytes. */
  clientBackupBytes: Uint8Array;
  backupId: string;
  backupSharePairIds: string[];
  createdAt: string;
  /** Which stored version opened: "previous" after a backup that failed half-way. */
  version: "current" | "previous";
  /**
   * True when recovery opened another pair than the newest key with the
   * current version: after a backup that failed half-way, the last
   * confirmed backup (tried first) or an older key.
   */
  fellBack: boolean;
  /** PASSKEY: the credential id (base64url) of the passkey that opened it. */
  credentialId?: string;
}

export interface BackupSummary {
  backupMethod: string;
  backupId: string;
  backupSharePairIds: string[];
  size: number;
  createdAt: string;
  portalNotified: boolean;
  confirmed: boolean;
}

export interface CheckOptions extends MethodOptions {
  /**
   * The device's current client backup: when given, the check also says
   * whether the backup opens to exactly this (by SHA-256 digest).
   */
  clientBackup?: string | Uint8Array;
}

/**
 * A problem checkBackup found: "BACKUP_NOT_FOUND", "BACKUP_UNCONFIRMED" (a
 * newer backup is unfinished, the last confirmed one is kept: still
 * recoverable), "PORTAL_NOT_NOTIFIED", "CUSTODIAN_BACKUP_MISSING",
 * "BACKUP_OUTDATED" (opens, but not to clientBackup), or the code recovery
 * failed with ("KEY_NOT_FOUND", "CANNOT_DECRYPT", "WRONG_PASSWORD",
 * "SERVER_UNAVAILABLE", ...).
 */
export type BackupProblem =
  | "BACKUP_UNCONFIRMED" | "PORTAL_NOT_NOTIFIED" | "CUSTODIAN_BACKUP_MISSING" | "BACKUP_OUTDATED"
  | Exclude<PortalBackupErrorCode, "INVALID_INPUT">;

export interface BackupCheck {
  method: BackupMethod;
  /** Both halves are stored and the client half opens: recovery would work now. */
  recoverable: boolean;
  /** When the version recovery would open was stored; else the server's current one; null if none. */
  createdAt: string | null;
  /** Portal was told the client half is stored; null when the server could not be asked (see problems). */
  portalNotified: boolean | null;
  /** Portal's custodian half for this method is on the app's server; null when the server could not be asked (see problems). */
  custodianStored: boolean | null;
  /** Empty when all is well. */
  problems: BackupProblem[];
}

/** A custodian share Portal delivered to the app's server (never the share). */
export interface CustodianBackupSummary {
  /** Portal's backupMethod of the delivery, e.g. "GDRIVE" or "GDRIVE-SECP256K1". */
  backupMethod: string;
  /** When the server stored Portal's latest delivery (RFC 3339). */
  receivedAt: string;
}

export interface DeleteResult {
  method: BackupMethod;
  /** GDRIVE: key files removed from Drive. */
  removedKeyFiles: number;
}

export interface NotifyResult {
  method: BackupMethod;
  backupSharePairIds: string[];
  portalNotified: boolean;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "BackupOptions")]
    pub type BackupOptions;
    #[wasm_bindgen(typescript_type = "MethodOptions")]
    pub type MethodOptions;
    #[wasm_bindgen(typescript_type = "ChangeKeyOptions")]
    pub type ChangeKeyOptions;
    #[wasm_bindgen(typescript_type = "ServerOptions")]
    pub type ServerOptions;
    #[wasm_bindgen(typescript_type = "BackupResult")]
    pub type BackupResult;
    #[wasm_bindgen(typescript_type = "RecoveredWallet")]
    pub type RecoveredWallet;
    #[wasm_bindgen(typescript_type = "BackupSummary[]")]
    pub type BackupSummaries;
    #[wasm_bindgen(typescript_type = "CheckOptions")]
    pub type CheckOptions;
    #[wasm_bindgen(typescript_type = "BackupCheck")]
    pub type BackupCheck;
    #[wasm_bindgen(typescript_type = "CustodianBackupSummary[]")]
    pub type CustodianBackupSummaries;
    #[wasm_bindgen(typescript_type = "DeleteResult")]
    pub type DeleteResult;
    #[wasm_bindgen(typescript_type = "NotifyResult")]
    pub type NotifyResult;
}

/// The real services; tests and the demo pass their stand-ins' URLs.
pub const DEFAULT_PORTAL_API_URL: &str = "https://api.portalhq.io";
pub const DEFAULT_DRIVE_API_URL: &str = "https://www.googleapis.com";
pub const DEFAULT_ICLOUD_API_URL: &str = "https://api.apple-cloudkit.com";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Gdrive,
    Icloud,
    Password,
    Passkey,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Gdrive => METHOD_GDRIVE,
            Method::Icloud => METHOD_ICLOUD,
            Method::Password => METHOD_PASSWORD,
            Method::Passkey => METHOD_PASSKEY,
        }
    }
}

/// Options after checking. The password is wiped from Rust memory on drop
/// (the JS string it came from is beyond our reach).
pub struct Options {
    pub method: Option<Method>,
    pub client_id: String,
    pub portal_token: String,
    pub server_url: String,
    pub custodian_id: Option<String>,
    pub portal_api_url: String,
    pub drive_api_url: String,
    pub get_drive_token: Option<Function>,
    pub icloud: Option<ICloudOptions>,
    pub password: Option<Zeroizing<String>>,
    /// `changeBackupKey` with PASSWORD: the password to seal with.
    pub new_password: Option<Zeroizing<String>>,
    /// The caller's object: PASSKEY reads `rpId`, `userDisplayName` and
    /// `credentialId` from it when it needs them.
    pub raw: JsValue,
    pub on_progress: Option<Function>,
    pub retry: RetryPolicy,
    pub timeout_ms: f64,
}

impl Options {
    pub fn parse(value: &JsValue) -> Result<Options, Error> {
        if !value.is_object() {
            return Err(Error::InvalidInput("options must be an object"));
        }
        const REQUIRED: Error = Error::InvalidInput("options need clientId, portalToken and serverUrl as strings");
        const WRONG_TYPE: Error = Error::InvalidInput("an option has the wrong type (see the TypeScript types)");
        let optional = |key| js::opt_string(value, key).ok_or(WRONG_TYPE);
        let client_id = js::string(value, "clientId").ok_or(REQUIRED)?;
        let portal_token = js::string(value, "portalToken").ok_or(REQUIRED)?;
        let server_url = js::string(value, "serverUrl").ok_or(REQUIRED)?;
        let method = match optional("method")?.as_deref() {
            None => None,
            Some(METHOD_GDRIVE) => Some(Method::Gdrive),
            Some(METHOD_ICLOUD) => Some(Method::Icloud),
            Some(METHOD_PASSWORD) => Some(Method::Password),
            Some(METHOD_PASSKEY) => Some(Method::Passkey),
            Some(_) => return Err(METHOD_NEEDED),
        };
        if client_id.is_empty() || portal_token.is_empty() || server_url.is_empty() {
            return Err(Error::InvalidInput("clientId, portalToken and serverUrl must not be empty"));
        }
        let mut retry = RetryPolicy::DEFAULT;
        let raw_retry = js::field(value, "retry");
        if raw_retry.is_object() {
            let number = |key, default: f64| js::number(&raw_retry, key).unwrap_or(default).max(0.0);
            retry.max_attempts = number("maxAttempts", f64::from(retry.max_attempts)).max(1.0) as u32;
            retry.base_delay_ms = number("baseDelayMs", retry.base_delay_ms);
            retry.max_delay_ms = number("maxDelayMs", retry.max_delay_ms);
            retry.max_total_ms = number("maxTotalMs", retry.max_total_ms);
        }
        Ok(Options {
            method,
            client_id,
            portal_token,
            server_url,
            custodian_id: optional("custodianId")?.filter(|id| !id.is_empty()),
            portal_api_url: optional("portalApiUrl")?.unwrap_or_else(|| DEFAULT_PORTAL_API_URL.into()),
            drive_api_url: optional("driveApiUrl")?.unwrap_or_else(|| DEFAULT_DRIVE_API_URL.into()),
            get_drive_token: function(value, "getDriveToken")?,
            icloud: ICloudOptions::parse(&js::field(value, "icloud"))?,
            password: optional("password")?.map(Zeroizing::new),
            new_password: optional("newPassword")?.map(Zeroizing::new),
            raw: value.clone(),
            on_progress: function(value, "onProgress")?,
            retry,
            timeout_ms: js::number(value, "timeoutMs").filter(|ms| *ms > 0.0).unwrap_or(30_000.0),
        })
    }

    pub fn method(&self) -> Result<Method, Error> {
        self.method.ok_or(METHOD_NEEDED)
    }

    pub fn drive_token_source(&self) -> Result<Function, Error> {
        self.get_drive_token.clone().ok_or(Error::InvalidInput("GDRIVE needs a getDriveToken function"))
    }

    pub fn custodian_id(&self) -> Result<&str, Error> {
        self.custodian_id.as_deref().ok_or(Error::InvalidInput("GDRIVE and ICLOUD need custodianId (it names the key)"))
    }

    pub fn icloud(&self) -> Result<&ICloudOptions, Error> {
        self.icloud.as_ref().ok_or(Error::InvalidInput("ICLOUD needs icloud: {container, environment, apiToken, getWebAuthToken}"))
    }

    pub fn password(&self) -> Result<&str, Error> {
        match &self.password {
            Some(password) if !password.is_empty() => Ok(password),
            _ => Err(Error::InvalidInput("PASSWORD needs a non-empty password")),
        }
    }

    pub fn new_password(&self) -> Result<&str, Error> {
        match &self.new_password {
            Some(password) if !password.is_empty() => Ok(password),
            _ => Err(Error::InvalidInput("changing a PASSWORD backup's key needs a non-empty newPassword")),
        }
    }

    pub fn progress(&self) -> Progress {
        Progress(self.on_progress.clone())
    }
}

const METHOD_NEEDED: Error = Error::InvalidInput(r#"method must be "GDRIVE", "ICLOUD", "PASSWORD" or "PASSKEY""#);

/// `icloud`, checked: where the key records live and how to sign in.
pub struct ICloudOptions {
    /// `{apiUrl}/database/1/{container}/{environment}/private`.
    pub database_url: String,
    pub api_token: String,
    pub get_web_auth_token: Function,
    pub on_web_auth_token: Option<Function>,
}

impl ICloudOptions {
    fn parse(value: &JsValue) -> Result<Option<Self>, Error> {
        if value.is_undefined() || value.is_null() {
            return Ok(None);
        }
        const NEEDED: Error =
            Error::InvalidInput("icloud needs container, environment and apiToken as strings and a getWebAuthToken function");
        let text = |key| js::string(value, key).filter(|text| !text.is_empty()).ok_or(NEEDED);
        let api_url = js::opt_string(value, "apiUrl").ok_or(NEEDED)?;
        let api_url = api_url.as_deref().unwrap_or(DEFAULT_ICLOUD_API_URL).trim_end_matches('/');
        let database_url = [api_url, "/database/1/", &text("container")?, "/", &text("environment")?, "/private"].concat();
        Ok(Some(ICloudOptions {
            database_url,
            api_token: text("apiToken")?,
            get_web_auth_token: function(value, "getWebAuthToken")?.ok_or(NEEDED)?,
            on_web_auth_token: function(value, "onWebAuthToken")?,
        }))
    }
}

fn function(options: &JsValue, name: &str) -> Result<Option<Function>, Error> {
    let value = js_sys::Reflect::get(options, &name.into()).unwrap_or(JsValue::UNDEFINED);
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    value.dyn_into::<Function>().map(Some).map_err(|_| Error::InvalidInput("getDriveToken, onProgress and the icloud callbacks must be functions"))
}

/// Calls `onProgress`; an exception there must not break the backup.
pub struct Progress(Option<Function>);

impl Progress {
    pub fn emit(&self, step: Step, phase: &str, error: Option<&JsValue>) {
        let Some(callback) = &self.0 else { return };
        let event = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&event, &"step".into(), &step.name().into());
        let _ = js_sys::Reflect::set(&event, &"phase".into(), &phase.into());
        if let Some(error) = error {
            let _ = js_sys::Reflect::set(&event, &"error".into(), error);
        }
        let _ = callback.call1(&JsValue::UNDEFINED, &event);
    }
}
