//! The one error type of this crate. Every variant has a stable `code` that
//! the JS face puts on its `Error` objects, so a wallet can switch on it.

use alloc::string::String;
use core::fmt;

/// Declares `ErrorCode`, its names, and the TypeScript union the package's
/// types carry, from one list: a code cannot be thrown without being typed.
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// Every code the package can throw (`error.code` in JS).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The name a wallet switches on.
            pub fn name(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $name,)*
                }
            }
        }

        /// `PortalBackupErrorCode`, written from the list above into the
        /// package's `.d.ts`.
        pub const TS_ERROR_CODES: &str = concat!(
            "/** Every code this package throws with (docs/BROWSER.md). */\nexport type PortalBackupErrorCode =",
            $("\n  | \"", $name, "\"",)*
            ";\n"
        );
    };
}

error_codes! {
    // Input and platform.
    InvalidInput = "INVALID_INPUT",
    /// No HTTP answer: offline, refused, blocked by CORS or timed out.
    Network = "NETWORK",
    /// A 2xx answer whose body is not what the service's API says.
    BadResponse = "BAD_RESPONSE",
    RandomnessUnavailable = "RANDOMNESS_UNAVAILABLE",
    WebcryptoUnavailable = "WEBCRYPTO_UNAVAILABLE",
    // The envelope.
    NotAnEnvelope = "NOT_AN_ENVELOPE",
    UnsupportedVersion = "UNSUPPORTED_VERSION",
    MalformedEnvelope = "MALFORMED_ENVELOPE",
    MalformedKey = "MALFORMED_KEY",
    CannotDecrypt = "CANNOT_DECRYPT",
    WrongPassword = "WRONG_PASSWORD",
    // Google Drive.
    DriveTokenUnavailable = "DRIVE_TOKEN_UNAVAILABLE",
    DriveUnauthenticated = "DRIVE_UNAUTHENTICATED",
    DrivePermissionDenied = "DRIVE_PERMISSION_DENIED",
    DriveQuotaExceeded = "DRIVE_QUOTA_EXCEEDED",
    DriveNotFound = "DRIVE_NOT_FOUND",
    DriveRateLimited = "DRIVE_RATE_LIMITED",
    DriveUnavailable = "DRIVE_UNAVAILABLE",
    DriveError = "DRIVE_ERROR",
    StorageCheckFailed = "STORAGE_CHECK_FAILED",
    KeyNotFound = "KEY_NOT_FOUND",
    // iCloud (CloudKit).
    IcloudTokenUnavailable = "ICLOUD_TOKEN_UNAVAILABLE",
    IcloudUnauthenticated = "ICLOUD_UNAUTHENTICATED",
    IcloudQuotaExceeded = "ICLOUD_QUOTA_EXCEEDED",
    IcloudNotFound = "ICLOUD_NOT_FOUND",
    IcloudRateLimited = "ICLOUD_RATE_LIMITED",
    IcloudUnavailable = "ICLOUD_UNAVAILABLE",
    IcloudError = "ICLOUD_ERROR",
    // The app's server.
    Unauthenticated = "UNAUTHENTICATED",
    OriginNotAllowed = "ORIGIN_NOT_ALLOWED",
    BackupNotFound = "BACKUP_NOT_FOUND",
    NotCurrent = "NOT_CURRENT",
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    ClientMismatch = "CLIENT_MISMATCH",
    ServerRateLimited = "SERVER_RATE_LIMITED",
    ServerRejected = "SERVER_REJECTED",
    ServerUnavailable = "SERVER_UNAVAILABLE",
    // Portal.
    PortalUnauthenticated = "PORTAL_UNAUTHENTICATED",
    PortalRateLimited = "PORTAL_RATE_LIMITED",
    PortalRejected = "PORTAL_REJECTED",
    PortalUnavailable = "PORTAL_UNAVAILABLE",
    // The passkey.
    PasskeyPrfUnsupported = "PASSKEY_PRF_UNSUPPORTED",
    PasskeyCancelled = "PASSKEY_CANCELLED",
    PasskeyFailed = "PASSKEY_FAILED",
    /// Nobody answered the passkey prompt within `passkeyTimeoutMs`.
    PasskeyTimeout = "PASSKEY_TIMEOUT",
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The bytes do not start with the envelope's magic string.
    NotAnEnvelope,
    /// The magic is right but the format version is one we do not know.
    UnsupportedVersion(u8),
    /// The envelope (or its text form) is structurally broken: truncated,
    /// bad base64, unknown key kind, out-of-range parameters.
    Malformed(&'static str),
    /// The key text is not a 256-bit key in base64url.
    MalformedKey,
    /// Authentication failed. Deliberately vague: wrong key, wrong client,
    /// wrong method and a flipped bit all look the same (no oracle).
    CannotDecrypt,
    /// A password envelope failed to open. Same vagueness as above.
    WrongPassword,
    /// The caller's input is unusable (empty client id, plaintext too big...).
    InvalidInput(&'static str),
    /// The platform's randomness source failed.
    Randomness,
    /// A failure outside the pure core (network, Drive, server, Portal),
    /// raised by the browser layer with its own code.
    Remote {
        code: ErrorCode,
        message: String,
        status: Option<u16>,
    },
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NotAnEnvelope => ErrorCode::NotAnEnvelope,
            Error::UnsupportedVersion(_) => ErrorCode::UnsupportedVersion,
            Error::Malformed(_) => ErrorCode::MalformedEnvelope,
            Error::MalformedKey => ErrorCode::MalformedKey,
            Error::CannotDecrypt => ErrorCode::CannotDecrypt,
            Error::WrongPassword => ErrorCode::WrongPassword,
            Error::InvalidInput(_) => ErrorCode::InvalidInput,
            Error::Randomness => ErrorCode::RandomnessUnavailable,
            Error::Remote { code, .. } => *code,
        }
    }

    /// A failure of a service, in its words.
    pub fn remote(code: ErrorCode, message: &str, status: Option<u16>) -> Self {
        Error::Remote { code, message: message.into(), status }
    }
}

impl Error {
    /// What went wrong, for people. Built by concatenation rather than
    /// `core::fmt`, which would cost the npm package kilobytes.
    pub fn message(&self) -> String {
        let fixed = match self {
            Error::NotAnEnvelope => "not a portal-backup envelope",
            Error::UnsupportedVersion(version) => {
                let mut digits = [0u8; 3];
                let digits = decimal(*version, &mut digits);
                return ["unsupported envelope version ", digits, "; a newer portal-backup may read it"].concat();
            }
            Error::Malformed(why) => return ["malformed envelope: ", why].concat(),
            Error::MalformedKey => "malformed backup key: expected 32 bytes in base64url",
            Error::CannotDecrypt => "cannot decrypt: wrong key or damaged backup",
            Error::WrongPassword => "wrong password or damaged backup",
            Error::InvalidInput(why) => return ["invalid input: ", why].concat(),
            Error::Randomness => "the platform's random number generator failed",
            Error::Remote { message, .. } => message,
        };
        fixed.into()
    }
}

/// `n` in decimal, written into `buffer`.
fn decimal(mut n: u8, buffer: &mut [u8; 3]) -> &str {
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + n % 10;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    core::str::from_utf8(&buffer[start..]).unwrap_or_default()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl core::error::Error for Error {}

pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_version_and_the_reason() {
        let newer = "; a newer portal-backup may read it";
        assert_eq!(Error::UnsupportedVersion(0).to_string(), ["unsupported envelope version 0", newer].concat());
        assert_eq!(Error::UnsupportedVersion(7).message(), ["unsupported envelope version 7", newer].concat());
        assert_eq!(Error::UnsupportedVersion(255).message(), ["unsupported envelope version 255", newer].concat());
        assert_eq!(Error::Malformed("truncated header").message(), "malformed envelope: truncated header");
        assert_eq!(Error::InvalidInput("x").to_string(), "invalid input: x");
    }

    #[test]
    fn every_code_is_named_once_and_typed_for_typescript() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.name()).collect();
        for (at, name) in names.iter().enumerate() {
            assert!(!names[..at].contains(name), "{name} twice");
            assert!(name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'), "{name}");
            assert!(TS_ERROR_CODES.contains(&format!("| \"{name}\"")), "{name} missing from the TypeScript union");
        }
        assert_eq!(TS_ERROR_CODES.matches(" | ").count(), names.len());
        assert_eq!(Error::Randomness.code().name(), "RANDOMNESS_UNAVAILABLE");
        assert_eq!(Error::Malformed("x").code(), ErrorCode::MalformedEnvelope);
    }
}
