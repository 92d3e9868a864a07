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
}
