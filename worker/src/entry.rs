//! The fetch entry point: route, CORS, dispatch, one log line.

use worker::{Context, Env, Method, Response, console_log, event};

use crate::config::{Config, now_ms};
use crate::error::{Error, Result};
use crate::http::{
    CORS_ALLOW_HEADERS, CORS_MAX_AGE, Request, RequestLog, Target, empty, error_response, header,
    path, request_id, route,
};
use crate::{client_backups, webhooks};

fn preflight(target: &Target, origin: Option<&str>, config: &Config) -> Result<Response> {
    if target.is_webhook() {
        return Err(Error::MethodNotAllowed {
            allow: target.allow(),
        });
    }
    let origin = config
        .allowed_origins
        .allow(origin)
        .ok_or(Error::OriginNotAllowed)?;
    let response = empty(204)?;
    let headers = response.headers();
    for (name, value) in [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", target.allow()),
        ("Access-Control-Allow-Headers", CORS_ALLOW_HEADERS),
        ("Access-Control-Max-Age", CORS_MAX_AGE),
    ] {
        headers
            .set(name, value)
            .map_err(|_| Error::Internal("headers"))?;
    }
    Ok(response)
}

async fn dispatch(target: &Target, req: &Request, env: &Env, config: &Config) -> Result<Response> {
    match (target, Method::from(req.method())) {
        (Target::WebhookBackup, Method::Post) => {
            webhooks::store_custodian_share(req, env, config).await
        }
        (Target::WebhookFetch, Method::Post) => {
            webhooks::fetch_custodian_shares(req, env, config).await
        }
        (_, Method::Options) => preflight(target, header(req, "Origin").as_deref(), config),
        (target, _) if target.is_webhook() => Err(Error::MethodNotAllowed {
            allow: target.allow(),
        }),
        _ => client_backups::handle(target, req, env, config).await,
    }
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> worker::Result<Response> {
    let started = now_ms();
    let request_id = request_id(header(&req, "cf-ray").as_deref());
    let method = req.method();
    let config = Config::cached(&env);
    let target = route(&path(&req), &config.webhooks_root);
    let origin = header(&req, "Origin");

    let result = match &target {
        Some(target) => dispatch(target, &req, &env, &config).await,
        None => Err(Error::RouteNotFound),
    };
    let (mut response, error_code) = match result {
        Ok(response) => (response, None),
        Err(error) => (error_response(&error), Some(error.code().as_str())),
    };

    // CORS on the browser's routes only; Portal's webhooks get none.
    if target.as_ref().is_some_and(|t| !t.is_webhook()) {
        let headers = response.headers_mut();
        let _ = headers.set("Vary", "Origin");
        if let Some(origin) = config.allowed_origins.allow(origin.as_deref()) {
            let _ = headers.set("Access-Control-Allow-Origin", origin);
        }
    }

    let log = RequestLog {
        request_id: &request_id,
        method: &method,
        route: target.as_ref().map_or("unmatched", Target::template),
        status: response.status_code(),
        duration_ms: (now_ms() - started).max(0.0) as u64,
        error_code,
    };
    console_log!("{}", log.to_line());
    let _ = response.headers_mut().set("X-Request-Id", &request_id);
    Ok(response)
}
