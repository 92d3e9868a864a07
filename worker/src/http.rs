//! The HTTP edges shared by every route: which route a path is, who may
//! call it cross-origin, the webhook secret check, and the one log line per
//! request. The workers-rs glue (building `Response`s, reading bodies with a
//! limit) is at the bottom, compiled for wasm32 only.

use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    WebhookBackup,
    WebhookFetch,
    ClientBackupList,
    /// The raw `{backupMethod}` segment, validated by the handler.
    ClientBackup(String),
    ClientBackupConfirm(String),
    ClientBackupNotify(String),
    /// Which custodian methods Portal stored for the caller; never a share.
    CustodianBackupList,
}

/// One route of the table: the template logged instead of the path (which
/// names a client or method), the methods it serves, and its `Allow`.
pub struct Route {
    pub template: &'static str,
    /// Compared as text, as the request's method arrived (see
    /// [`Target::serves`]). OPTIONS, the CORS preflight, is answered before.
    pub methods: &'static [&'static str],
    pub allow: &'static str,
}

/// The route table: every path, what it serves, and what a 405 allows.
/// [`route`] finds a path's entry.
pub static ROUTES: [Route; 7] = [
    Route {
        template: "/{webhooksRoot}/backup",
        methods: &["POST"],
        allow: "POST",
    },
    Route {
        template: "/{webhooksRoot}/backup/fetch",
        methods: &["POST"],
        allow: "POST",
    },
    Route {
        template: "/v1/client-backups",
        methods: &["GET"],
        allow: "GET, OPTIONS",
    },
    Route {
        template: "/v1/client-backups/{backupMethod}",
        methods: &["GET", "PUT", "DELETE"],
        allow: "GET, PUT, DELETE, OPTIONS",
    },
    Route {
        template: "/v1/client-backups/{backupMethod}/confirm",
        methods: &["POST"],
        allow: "POST, OPTIONS",
    },
    Route {
        template: "/v1/client-backups/{backupMethod}/notify",
        methods: &["POST"],
        allow: "POST, OPTIONS",
    },
    Route {
        template: "/v1/custodian-backups",
        methods: &["GET"],
        allow: "GET, OPTIONS",
    },
];

impl Target {
    /// This target's entry in [`ROUTES`].
    pub fn route(&self) -> &'static Route {
        &ROUTES[match self {
            Target::WebhookBackup => 0,
            Target::WebhookFetch => 1,
            Target::ClientBackupList => 2,
            Target::ClientBackup(_) => 3,
            Target::ClientBackupConfirm(_) => 4,
            Target::ClientBackupNotify(_) => 5,
            Target::CustodianBackupList => 6,
        }]
    }

    /// The `Allow` header for this route.
    pub fn allow(&self) -> &'static str {
        self.route().allow
    }

    /// The route template logged instead of the path.
    pub fn template(&self) -> &'static str {
        self.route().template
    }

    pub fn is_webhook(&self) -> bool {
        matches!(self, Target::WebhookBackup | Target::WebhookFetch)
    }

    /// Whether this route serves `method`, the request's method exactly as
    /// it arrived (the runtime upper-cases the standard ones). Compared as
    /// text because workers-rs's `Method` reads any method it does not know
    /// (`QUERY`, `FOO`) as GET.
    pub fn serves(&self, method: &str) -> bool {
        self.route().methods.contains(&method)
    }
}

/// Which route `path` is. `webhooks_root` is the var `WEBHOOKS_ROOT`, with or
/// without slashes (`portal/hooks`, `/webhooks/`); empty puts them at `/backup`.
pub fn route(path: &str, webhooks_root: &str) -> Option<Target> {
    let root = webhooks_root.trim_matches('/');
    let webhook_path = if root.is_empty() {
        path.strip_prefix('/')
    } else {
        path.strip_prefix('/')
            .and_then(|p| p.strip_prefix(root))
            .and_then(|p| p.strip_prefix('/'))
    };
    match webhook_path {
        Some("backup") => return Some(Target::WebhookBackup),
        Some("backup/fetch") => return Some(Target::WebhookFetch),
        _ => {}
    }
    if matches!(path, "/v1/custodian-backups" | "/v1/custodian-backups/") {
        return Some(Target::CustodianBackupList);
    }
    let rest = path.strip_prefix("/v1/client-backups")?;
    let segments: Vec<&str> = rest.split('/').skip(1).collect();
    match (rest, segments.as_slice()) {
        ("" | "/", _) => Some(Target::ClientBackupList),
        (_, [method]) => Some(Target::ClientBackup((*method).into())),
        (_, [method, "confirm"]) => Some(Target::ClientBackupConfirm((*method).into())),
        (_, [method, "notify"]) => Some(Target::ClientBackupNotify((*method).into())),
        _ => None,
    }
}

/// Compares the `X-Webhook-Secret` header with the configured secret in
/// constant time. Both are hashed first, so neither the length nor a prefix
/// of the secret leaks through timing.
pub fn webhook_secret_matches(presented: Option<&str>, configured: &str) -> bool {
    let Some(presented) = presented else {
        return false;
    };
    let presented = Sha256::digest(presented.as_bytes());
    let configured = Sha256::digest(configured.as_bytes());
    bool::from(presented.as_slice().ct_eq(configured.as_slice()))
}

pub const CORS_ALLOW_HEADERS: &str = "Authorization, Content-Type";
pub const CORS_MAX_AGE: &str = "600";

/// The var `ALLOWED_ORIGINS`: exact origins, comma-separated. No wildcard:
/// these routes take a bearer token.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Vec<String>);

impl AllowedOrigins {
    pub fn parse(var: &str) -> Self {
        AllowedOrigins(
            var.split(',')
                .map(|o| o.trim().trim_end_matches('/'))
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The origin to echo in `Access-Control-Allow-Origin`, if it is allowed.
    pub fn allow<'a>(&self, origin: Option<&'a str>) -> Option<&'a str> {
        origin.filter(|origin| self.0.iter().any(|allowed| allowed == origin))
    }
}

/// `cf-ray` when Cloudflare set a sane one, else a random id.
pub fn request_id(cf_ray: Option<&str>) -> String {
    match cf_ray {
        Some(ray) if ray.len() <= 64 && crate::validate::is_safe_id(ray) => ray.to_owned(),
        _ => {
            let mut bytes = [0u8; 8];
            // A log correlation id: a zero id on RNG failure is harmless.
            let _ = getrandom::fill(&mut bytes);
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

/// The one log line per request. Holds no path, header or body: nothing in
/// it can carry a share, token or secret.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestLog<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub status: u16,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
}

impl RequestLog<'_> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The path of a request URL as the runtime serialises it
/// (`http://host/path?query`): everything from the first `/` after the
/// host up to `?` or `#`, which stay percent-encoded inside a path. The same
/// text workers-rs's `Request::path()` gives.
pub fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let Some(start) = url[after_scheme..].find('/').map(|i| after_scheme + i) else {
        return "/";
    };
    let path = &url[start..];
    &path[..path.find(['?', '#']).unwrap_or(path.len())]
}

/// `Content-Length`, if present, must be within `limit` (a first cheap check;
/// the body reader counts the real bytes too).
pub fn content_length_within(content_length: Option<&str>, limit: usize) -> Result<()> {
    match content_length.map(|v| v.trim().parse::<u64>()) {
        None => Ok(()),
        Some(Ok(length)) if length <= limit as u64 => Ok(()),
        Some(Ok(_)) => Err(Error::PayloadTooLarge { limit }),
        Some(Err(_)) => Err(Error::invalid(
            ErrorCode::InvalidContentLength,
            "Content-Length is not a number",
        )),
    }
}

#[cfg(target_arch = "wasm32")]
pub use glue::*;

#[cfg(target_arch = "wasm32")]
mod glue {
    use futures_util::StreamExt;
    use js_sys::Uint8Array;
    use serde::Serialize;
    use worker::{ByteStream, Response};

    use crate::error::{Error, ErrorCode, Result};

    /// The incoming request as the runtime hands it over. Not workers-rs's
    /// `Request`: building one reads `request.cf` (an object the runtime
    /// builds from JSON on first access; 5% of the Rust Worker's time on
    /// `GET /v1/client-backups/{method}` in a workerd profile, see
    /// bench/profile-worker.mjs) and copies the URL and method into wasm,
    /// on every request; nothing here reads `cf`.
    pub type Request = worker::worker_sys::web_sys::Request;

    pub fn json<T: Serialize>(status: u16, body: &T) -> Result<Response> {
        let body = serde_json::to_vec(body).map_err(|_| Error::Internal("response encoding"))?;
        json_bytes(status, body)
    }

    /// A JSON body already encoded (one the client's object wrote).
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Result<Response> {
        let response = Response::from_bytes(body)
            .map_err(|_| Error::Internal("response"))?
            .with_status(status);
        let headers = response.headers();
        for (name, value) in [
            ("Content-Type", "application/json"),
            ("Cache-Control", "no-store"),
        ] {
            headers
                .set(name, value)
                .map_err(|_| Error::Internal("headers"))?;
        }
        Ok(response)
    }

    pub fn empty(status: u16) -> Result<Response> {
        let response = Response::empty()
            .map_err(|_| Error::Internal("response"))?
            .with_status(status);
        response
            .headers()
            .set("Cache-Control", "no-store")
            .map_err(|_| Error::Internal("headers"))?;
        Ok(response)
    }

    pub fn error_response(error: &Error) -> Response {
        let mut response = json(error.status(), &error.body())
            .unwrap_or_else(|_| Response::empty().expect("empty response").with_status(500));
        if let Error::MethodNotAllowed { allow } = error {
            let _ = response.headers_mut().set("Allow", allow);
        }
        if let Some(seconds) = error.retry_after() {
            let _ = response
                .headers_mut()
                .set("Retry-After", &seconds.to_string());
        }
        response
    }

    pub fn header(req: &Request, name: &str) -> Option<String> {
        req.headers().get(name).ok().flatten()
    }

    /// The request's path (see [`super::path_of`]).
    pub fn path(req: &Request) -> String {
        super::path_of(&req.url()).to_owned()
    }

    /// The body, refused with 413 once it passes `limit` bytes: declared
    /// length first, then the bytes actually received.
    pub async fn read_body(req: &Request, limit: usize) -> Result<Vec<u8>> {
        let unreadable = || {
            Error::invalid(
                ErrorCode::BodyUnreadable,
                "the request body could not be read",
            )
        };
        let declared = header(req, "Content-Length");
        super::content_length_within(declared.as_deref(), limit)?;
        let body = if declared.is_some() {
            // Declared within the limit: one `arrayBuffer()` call instead of a
            // boundary crossing per chunk (the runtime holds a body to its
            // Content-Length; what arrived is still counted below).
            let buffer = req
                .array_buffer()
                .map_err(|_| unreadable())?
                .await
                .map_err(|_| unreadable())?;
            Uint8Array::new(&buffer).to_vec()
        } else {
            // Chunked, no length declared: read chunk by chunk and stop as
            // soon as the limit is passed, never buffering more.
            let mut body = Vec::new();
            let Some(stream) = req.body() else {
                return Ok(body);
            };
            let mut stream = ByteStream::from(stream);
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|_| unreadable())?;
                if body.len() + chunk.len() > limit {
                    return Err(Error::PayloadTooLarge { limit });
                }
                body.extend_from_slice(&chunk);
            }
            body
        };
        if body.len() > limit {
            return Err(Error::PayloadTooLarge { limit });
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_routes() {
        assert_eq!(
            route("/webhooks/backup", "webhooks"),
            Some(Target::WebhookBackup)
        );
        assert_eq!(
            route("/webhooks/backup/fetch", "/webhooks/"),
            Some(Target::WebhookFetch)
        );
        assert_eq!(
            route("/portal/hooks/backup", "portal/hooks"),
            Some(Target::WebhookBackup)
        );
        assert_eq!(route("/backup", ""), Some(Target::WebhookBackup));
        assert_eq!(route("/other/backup", "webhooks"), None);
        assert_eq!(route("/webhooksx/backup", "webhooks"), None);
        assert_eq!(
            route("/v1/client-backups", "w"),
            Some(Target::ClientBackupList)
        );
        assert_eq!(
            route("/v1/client-backups/GDRIVE", "w"),
            Some(Target::ClientBackup("GDRIVE".into()))
        );
        assert_eq!(
            route("/v1/client-backups/G/confirm", "w"),
            Some(Target::ClientBackupConfirm("G".into()))
        );
        assert_eq!(
            route("/v1/client-backups/G/notify", "w"),
            Some(Target::ClientBackupNotify("G".into()))
        );
        assert_eq!(route("/v1/client-backups/G/other", "w"), None);
        assert_eq!(
            route("/v1/custodian-backups", "w"),
            Some(Target::CustodianBackupList)
        );
        assert_eq!(route("/v1/custodian-backups/GDRIVE", "w"), None);
        assert_eq!(route("/v1/client-backupsX", "w"), None);
        assert_eq!(route("/", "w"), None);
    }

    #[test]
    fn routes_serve_only_their_methods_spelled_exactly() {
        let backup = Target::ClientBackup("GDRIVE".into());
        for method in ["GET", "PUT", "DELETE"] {
            assert!(backup.serves(method), "{method}");
        }
        // Unknown methods are not GET; a method is not its lower case.
        for method in ["QUERY", "FOO", "PATCH", "POST", "TRACE", "HEAD", "get", ""] {
            assert!(!backup.serves(method), "{method}");
        }
        assert!(Target::ClientBackupList.serves("GET"));
        assert!(!Target::ClientBackupList.serves("QUERY"));
        assert!(Target::ClientBackupNotify("G".into()).serves("POST"));
        assert!(!Target::ClientBackupConfirm("G".into()).serves("GET"));
        assert!(Target::WebhookFetch.serves("POST"));
        assert!(!Target::WebhookBackup.serves("QUERY"));
    }

    /// A 405's `Allow` names exactly what the route serves (and OPTIONS,
    /// the preflight, on the browser's routes), and every template routes
    /// back to its own entry.
    #[test]
    fn the_route_table_agrees_with_itself() {
        for (at, entry) in ROUTES.iter().enumerate() {
            let mut allowed: Vec<&str> = entry.methods.to_vec();
            let path = entry
                .template
                .replace("{webhooksRoot}", "hooks")
                .replace("{backupMethod}", "GDRIVE");
            let target = route(&path, "hooks").unwrap();
            assert!(core::ptr::eq(target.route(), &ROUTES[at]), "{path}");
            if !target.is_webhook() {
                allowed.push("OPTIONS");
            }
            assert_eq!(entry.allow, allowed.join(", "), "{path}");
        }
    }

    #[test]
    fn webhook_secret_must_match_exactly() {
        assert!(webhook_secret_matches(Some("s3cret-value"), "s3cret-value"));
        assert!(!webhook_secret_matches(
            Some("s3cret-valuf"),
            "s3cret-value"
        ));
        assert!(!webhook_secret_matches(Some("s3cret"), "s3cret-value"));
        assert!(!webhook_secret_matches(Some(""), "s3cret-value"));
        assert!(!webhook_secret_matches(None, "s3cret-value"));
    }

    #[test]
    fn only_listed_origins_are_echoed() {
        let origins = AllowedOrigins::parse("https://wallet.example, http://localhost:8000/ ,");
        assert_eq!(
            origins.allow(Some("https://wallet.example")),
            Some("https://wallet.example")
        );
        assert_eq!(
            origins.allow(Some("http://localhost:8000")),
            Some("http://localhost:8000")
        );
        assert_eq!(origins.allow(Some("https://evil.example")), None);
        assert_eq!(origins.allow(Some("https://wallet.example.evil")), None);
        assert_eq!(origins.allow(None), None);
        assert_eq!(AllowedOrigins::parse("").allow(Some("null")), None);
    }

    #[test]
    fn request_ids_come_from_cf_ray_only_when_sane() {
        assert_eq!(
            request_id(Some("8a1b2c3d4e5f6789-SJC")),
            "8a1b2c3d4e5f6789-SJC"
        );
        let random = request_id(Some("x\"}\n{\"forged\":1"));
        assert_eq!(random.len(), 16);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn the_path_is_the_urls_path_without_query_or_fragment() {
        assert_eq!(
            path_of("http://worker.test/v1/client-backups/GDRIVE"),
            "/v1/client-backups/GDRIVE"
        );
        assert_eq!(
            path_of("https://h:8787/webhooks/backup?x=/y#z"),
            "/webhooks/backup"
        );
        assert_eq!(path_of("http://h/a%3Fb/c#d"), "/a%3Fb/c");
        assert_eq!(path_of("http://h"), "/");
        assert_eq!(path_of("http://h?q"), "/");
        assert_eq!(path_of("http://h/"), "/");
    }

    #[test]
    fn declared_lengths_are_bounded() {
        assert!(content_length_within(None, 10).is_ok());
        assert!(content_length_within(Some("10"), 10).is_ok());
        assert_eq!(
            content_length_within(Some("11"), 10),
            Err(Error::PayloadTooLarge { limit: 10 })
        );
        assert_eq!(
            content_length_within(Some("x"), 10).unwrap_err().status(),
            400
        );
    }

    #[test]
    fn log_lines_are_json_without_paths() {
        let line = RequestLog {
            request_id: "r1",
            method: "POST",
            route: Target::WebhookBackup.template(),
            status: 200,
            duration_ms: 3,
            error_code: None,
        }
        .to_line();
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed["route"], "/{webhooksRoot}/backup");
        assert_eq!(parsed["durationMs"], 3);
    }
}
