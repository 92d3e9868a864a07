//! The one error type of this crate. Every variant has a stable `code` that
//! the JS face puts on its `Error` objects, so a wallet can switch on it.

use alloc::string::String;
use core::fmt;

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
        code: &'static str,
        message: String,
        status: Option<u16>,
    },
}

impl Error {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotAnEnvelope => "NOT_AN_ENVELOPE",
            Error::UnsupportedVersion(_) => "UNSUPPORTED_VERSION",
            Error::Malformed(_) => "MALFORMED_ENVELOPE",
            Error::MalformedKey => "MALFORMED_KEY",
            Error::CannotDecrypt => "CANNOT_DECRYPT",
            Error::WrongPassword => "WRONG_PASSWORD",
            Error::InvalidInput(_) => "INVALID_INPUT",
            Error::Randomness => "RANDOMNESS_UNAVAILABLE",
            Error::Remote { code, .. } => code,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotAnEnvelope => f.write_str("not a portal-backup envelope"),
            Error::UnsupportedVersion(v) => {
                write!(f, "unsupported envelope version {v}; a newer portal-backup may read it")
            }
            Error::Malformed(why) => write!(f, "malformed envelope: {why}"),
            Error::MalformedKey => f.write_str("malformed backup key: expected 32 bytes in base64url"),
            Error::CannotDecrypt => f.write_str("cannot decrypt: wrong key or damaged backup"),
            Error::WrongPassword => f.write_str("wrong password or damaged backup"),
            Error::InvalidInput(why) => write!(f, "invalid input: {why}"),
            Error::Randomness => f.write_str("the platform's random number generator failed"),
            Error::Remote { message, .. } => f.write_str(message),
        }
    }
}

impl core::error::Error for Error {}

pub type Result<T, E = Error> = core::result::Result<T, E>;
