//! The one error type of the Worker. Every variant maps to a status and a
//! stable code; messages are fixed strings, so an error can never echo a
//! share, a token, a key or the webhook secret back to the caller.

use core::fmt;

use portal_backup::wire::{ErrorBody, ErrorDetail};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The body or a path segment is unusable; the message names the field.
    InvalidRequest {
        code: &'static str,
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
    pub const fn invalid(code: &'static str, message: &'static str) -> Self {
        Error::InvalidRequest { code, message }
    }

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

    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest { code, .. } => code,
            Error::Unauthenticated | Error::BadWebhookSecret => "UNAUTHENTICATED",
            Error::OriginNotAllowed => "ORIGIN_NOT_ALLOWED",
            Error::NotFound => "NOT_FOUND",
            Error::RouteNotFound => "ROUTE_NOT_FOUND",
            Error::MethodNotAllowed { .. } => "METHOD_NOT_ALLOWED",
            Error::NotCurrent => "NOT_CURRENT",
            Error::TooManyBackupMethods => "TOO_MANY_BACKUP_METHODS",
            Error::RateLimited { .. } => "RATE_LIMITED",
            Error::PayloadTooLarge { .. } => "PAYLOAD_TOO_LARGE",
            Error::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Error::Misconfigured(_) => "MISCONFIGURED",
            Error::StoredRecordUnreadable => "STORED_RECORD_UNREADABLE",
            Error::PortalUnavailable => "PORTAL_UNAVAILABLE",
            Error::StorageUnavailable => "STORAGE_UNAVAILABLE",
            Error::Internal(_) => "INTERNAL",
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
                code: self.code().into(),
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
