//! The one error type of the Worker. Every variant maps to a status and a
//! stable code; messages are fixed strings, so an error can never echo a
//! share, a token, a key or the webhook secret back to the caller.

use core::fmt;

use portal_backup::wire::{ErrorBody, ErrorDetail};

/// Declares [`ErrorCode`] from one list of `Variant = "WIRE_TEXT"` pairs:
/// the enum, [`ErrorCode::ALL`] and [`ErrorCode::as_str`] come from the same
/// lines, so none can miss a code the others have.
macro_rules! error_codes {
    ($(#[$meta:meta])* pub enum $enum:ident { $($(#[$doc:meta])* $name:ident = $text:literal,)* }) => {
        $(#[$meta])*
        // u32, not the default u8: with a one-byte code inside
        // `Error::InvalidRequest`, rustc packs `Error`'s other variants into
        // the code's spare values at odd offsets, and the edge Worker's wasm
        // grew 0.7 KiB gzip; word-sized (and `Error: Copy`), it is 0.6 KiB
        // smaller than with the bare-string codes before.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $enum {
            $($(#[$doc])* $name,)*
        }

        impl $enum {
            /// Every code, in declaration order.
            pub const ALL: &'static [$enum] = &[$($enum::$name,)*];

            /// The code as it goes on the wire (`SCREAMING_SNAKE_CASE`).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($enum::$name => $text,)*
                }
            }
        }
    };
}

error_codes! {
    /// Every `code` the Worker can answer with, in
    /// `{"error": {"code", "message"}}` (docs/SERVER-API.md, "Errors"). An
    /// error is made with one of these, so a misspelt code does not compile;
    /// tests/worker/error-codes.test.mjs checks docs/openapi.yaml's `code`
    /// enums against [`ErrorCode::ALL`] (printed by
    /// `cargo run --example error_codes`), both ways.
    pub enum ErrorCode {
        // 400: the request is unusable; the message names the field.
        UnsupportedBackupMethod = "UNSUPPORTED_BACKUP_METHOD",
        InvalidJson = "INVALID_JSON",
        MissingField = "MISSING_FIELD",
        InvalidFieldType = "INVALID_FIELD_TYPE",
        UnknownField = "UNKNOWN_FIELD",
        InvalidClientId = "INVALID_CLIENT_ID",
        InvalidBackupMethod = "INVALID_BACKUP_METHOD",
        InvalidShare = "INVALID_SHARE",
        InvalidCiphertext = "INVALID_CIPHERTEXT",
        InvalidSharePairIds = "INVALID_SHARE_PAIR_IDS",
        InvalidBackupId = "INVALID_BACKUP_ID",
        InvalidContentLength = "INVALID_CONTENT_LENGTH",
        BodyUnreadable = "BODY_UNREADABLE",
        // 401
        Unauthenticated = "UNAUTHENTICATED",
        // 403
        OriginNotAllowed = "ORIGIN_NOT_ALLOWED",
        // 404
        NotFound = "NOT_FOUND",
        RouteNotFound = "ROUTE_NOT_FOUND",
        // 405
        MethodNotAllowed = "METHOD_NOT_ALLOWED",
        // 409
        NotCurrent = "NOT_CURRENT",
        TooManyBackupMethods = "TOO_MANY_BACKUP_METHODS",
        // 413, 415, 429
        PayloadTooLarge = "PAYLOAD_TOO_LARGE",
        UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
        RateLimited = "RATE_LIMITED",
        // 500
        Misconfigured = "MISCONFIGURED",
        StoredRecordUnreadable = "STORED_RECORD_UNREADABLE",
        Internal = "INTERNAL",
        // 503
        PortalUnavailable = "PORTAL_UNAVAILABLE",
        StorageUnavailable = "STORAGE_UNAVAILABLE",
    }
}

/// The code a wire text names (`"NOT_FOUND".parse()`), if it is one of ours.
impl core::str::FromStr for ErrorCode {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        Self::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == text)
            .ok_or(())
    }
}

/// `Copy`: every variant holds only fixed strings, numbers and a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The body or a path segment is unusable; the message names the field.
    InvalidRequest {
        code: ErrorCode,
        message: &'static str,
    },
    /// Bearer token missing or rejected by Portal.
    Unauthenticated,
    /// `X-Webhook-Secret` missing or wrong.
    BadWebhookSecret,
    /// A CORS preflight from an origin outside `ALLOWED_ORIGINS`.
    OriginNotAllowed,
    NotFound,
    RouteNotFound,
    /// The route exists but not for this method; carries the `Allow` header.
    MethodNotAllowed {
        allow: &'static str,
    },
    /// `confirm` named a version that is no longer current.
    NotCurrent,
    /// A custodian delivery for a new method when the client already has
    /// [`crate::store::custodian::MAX_METHODS`].
    TooManyBackupMethods,
    /// A Rate Limiting binding refused; `retry_after` is seconds.
    RateLimited {
        retry_after: u32,
    },
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    /// A variable or secret is missing or malformed (never says its value).
    Misconfigured(&'static str),
    /// A stored record does not parse or decrypt (e.g. its key was removed
    /// from `SHARE_ENCRYPTION_KEYS`).
    StoredRecordUnreadable,
    /// Portal could not be asked (down, timed out, 5xx).
    PortalUnavailable,
    /// Workers KV or the client's Durable Object failed, or a named blob is
    /// not readable yet: retry.
    StorageUnavailable,
    Internal(&'static str),
}

impl Error {
    pub const fn invalid(code: ErrorCode, message: &'static str) -> Self {
        Error::InvalidRequest { code, message }
    }

    /// One error of each kind, with values a request could meet: what the
    /// tests and the wire-contract example (its OpenAPI samples) go
    /// through. A test fails to compile when a kind is added and not named
    /// there, and fails when it is missing here.
    #[doc(hidden)]
    pub const ONE_OF_EACH: [Error; 17] = [
        Error::invalid(ErrorCode::InvalidCiphertext, "cipherText is not base64url"),
        Error::Unauthenticated,
        Error::BadWebhookSecret,
        Error::OriginNotAllowed,
        Error::NotFound,
        Error::RouteNotFound,
        Error::MethodNotAllowed { allow: "POST" },
        Error::NotCurrent,
        Error::TooManyBackupMethods,
        Error::RateLimited { retry_after: 60 },
        Error::PayloadTooLarge { limit: 65_536 },
        Error::UnsupportedMediaType,
        Error::Misconfigured("WEBHOOK_SECRET is not set"),
        Error::StoredRecordUnreadable,
        Error::PortalUnavailable,
        Error::StorageUnavailable,
        Error::Internal("response encoding"),
    ];

    pub fn status(&self) -> u16 {
        match self {
            Error::InvalidRequest { .. } => 400,
            Error::Unauthenticated | Error::BadWebhookSecret => 401,
            Error::OriginNotAllowed => 403,
            Error::NotFound | Error::RouteNotFound => 404,
            Error::MethodNotAllowed { .. } => 405,
            Error::NotCurrent | Error::TooManyBackupMethods => 409,
            Error::PayloadTooLarge { .. } => 413,
            Error::UnsupportedMediaType => 415,
            Error::RateLimited { .. } => 429,
            Error::Misconfigured(_) | Error::StoredRecordUnreadable | Error::Internal(_) => 500,
            Error::PortalUnavailable | Error::StorageUnavailable => 503,
        }
    }

    pub fn code(&self) -> ErrorCode {
        use ErrorCode as C;
        match self {
            Error::InvalidRequest { code, .. } => *code,
            Error::Unauthenticated | Error::BadWebhookSecret => C::Unauthenticated,
            Error::OriginNotAllowed => C::OriginNotAllowed,
            Error::NotFound => C::NotFound,
            Error::RouteNotFound => C::RouteNotFound,
            Error::MethodNotAllowed { .. } => C::MethodNotAllowed,
            Error::NotCurrent => C::NotCurrent,
            Error::TooManyBackupMethods => C::TooManyBackupMethods,
            Error::RateLimited { .. } => C::RateLimited,
            Error::PayloadTooLarge { .. } => C::PayloadTooLarge,
            Error::UnsupportedMediaType => C::UnsupportedMediaType,
            Error::Misconfigured(_) => C::Misconfigured,
            Error::StoredRecordUnreadable => C::StoredRecordUnreadable,
            Error::PortalUnavailable => C::PortalUnavailable,
            Error::StorageUnavailable => C::StorageUnavailable,
            Error::Internal(_) => C::Internal,
        }
    }

    /// Seconds for the `Retry-After` header: every answer that invites a
    /// retry (429, 503) says when.
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            Error::RateLimited { retry_after } => Some(*retry_after),
            Error::PortalUnavailable | Error::StorageUnavailable => Some(1),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().as_str().into(),
                message: self.to_string(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidRequest { message, .. } => f.write_str(message),
            Error::Unauthenticated => f.write_str("missing or rejected bearer token"),
            Error::BadWebhookSecret => f.write_str("missing or wrong X-Webhook-Secret"),
            Error::OriginNotAllowed => f.write_str("origin not allowed"),
            Error::NotFound => f.write_str("no backup stored for this method"),
            Error::RouteNotFound => f.write_str("no such route"),
            Error::MethodNotAllowed { allow } => write!(f, "method not allowed; allowed: {allow}"),
            Error::NotCurrent => f.write_str("backupId is not the current version"),
            Error::TooManyBackupMethods => f.write_str(
                "this client already has the most backup methods allowed; nothing was stored",
            ),
            Error::RateLimited { .. } => {
                f.write_str("too many requests; retry after Retry-After seconds")
            }
            Error::PayloadTooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            Error::UnsupportedMediaType => f.write_str("Content-Type must be application/json"),
            Error::Misconfigured(what) => write!(f, "server misconfigured: {what}"),
            Error::StoredRecordUnreadable => f.write_str("a stored record cannot be read"),
            Error::PortalUnavailable => f.write_str("Portal is unavailable; try again"),
            Error::StorageUnavailable => f.write_str("storage is unavailable; try again"),
            Error::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_named_once_and_reads_back() {
        for (i, code) in ErrorCode::ALL.iter().enumerate() {
            let text = code.as_str();
            assert!(
                text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{text}"
            );
            assert_eq!(text.parse(), Ok(*code));
            assert!(
                !ErrorCode::ALL[..i].iter().any(|c| c.as_str() == text),
                "{text}"
            );
        }
        assert_eq!("not_found".parse::<ErrorCode>(), Err(()));
        assert_eq!("".parse::<ErrorCode>(), Err(()));
    }

    #[test]
    fn every_error_answers_a_code_in_the_list() {
        for error in Error::ONE_OF_EACH {
            assert!(ErrorCode::ALL.contains(&error.code()), "{error:?}");
            assert_eq!(error.body().error.code, error.code().as_str());
        }
    }

    /// `ONE_OF_EACH` names every kind: the match is exhaustive, so a new
    /// kind does not compile until it has an arm, and its index must then be
    /// among `ONE_OF_EACH`'s.
    #[test]
    fn one_of_each_names_every_kind() {
        let kind = |error: &Error| match error {
            Error::InvalidRequest { .. } => 0,
            Error::Unauthenticated => 1,
            Error::BadWebhookSecret => 2,
            Error::OriginNotAllowed => 3,
            Error::NotFound => 4,
            Error::RouteNotFound => 5,
            Error::MethodNotAllowed { .. } => 6,
            Error::NotCurrent => 7,
            Error::TooManyBackupMethods => 8,
            Error::RateLimited { .. } => 9,
            Error::PayloadTooLarge { .. } => 10,
            Error::UnsupportedMediaType => 11,
            Error::Misconfigured(_) => 12,
            Error::StoredRecordUnreadable => 13,
            Error::PortalUnavailable => 14,
            Error::StorageUnavailable => 15,
            Error::Internal(_) => 16,
        };
        let kinds: Vec<usize> = Error::ONE_OF_EACH.iter().map(kind).collect();
        assert_eq!(kinds, (0..Error::ONE_OF_EACH.len()).collect::<Vec<_>>());
    }
}
