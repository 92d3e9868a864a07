//! Request validation where the module's own tests stopped short: what the
//! fetch webhook returns, and the body limits the handlers read up to.
//! Each test here kills a mutant the other tests let live
//! (docs/RELIABILITY.md §9, `scripts/mutants worker`).

use portal_backup::wire::CustodianFetchRequest;
use portal_backup_worker::error::ErrorCode;
use portal_backup_worker::validate::{self, MAX_CLIENT_BACKUP_BODY, MAX_WEBHOOK_BODY};

/// `POST /{root}/backup/fetch` names the client whose shares Portal wants:
/// that clientId comes back as sent, and nothing unsafe does.
#[test]
fn the_fetch_webhook_gives_back_the_client_id_it_was_sent() {
    let fetch = |client_id: &str| CustodianFetchRequest {
        client_id: client_id.into(),
    };
    assert_eq!(
        validate::custodian_fetch(br#"{"clientId":"client-42"}"#),
        Ok(fetch("client-42"))
    );
    // Portal may add fields; they are ignored, as for the backup webhook.
    assert_eq!(
        validate::custodian_fetch(br#"{"clientId":"c_1","x":1}"#),
        Ok(fetch("c_1"))
    );
    for (body, code) in [
        (&br#"{"clientId":"a/b"}"#[..], ErrorCode::InvalidClientId),
        (br#"{"clientId":""}"#, ErrorCode::InvalidClientId),
        (br#"{"clientId":7}"#, ErrorCode::InvalidFieldType),
        (br#"{}"#, ErrorCode::MissingField),
        (br#"["client-42"]"#, ErrorCode::InvalidJson),
        (b"client-42", ErrorCode::InvalidJson),
    ] {
        let result = validate::custodian_fetch(body);
        assert_eq!(
            result.map_err(|e| e.code()),
            Err(code),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

/// The body limits docs/openapi.yaml and docs/SERVER-API.md state: 64 KiB
/// for a webhook, 256 KiB for a client backup (the handlers, wasm-only,
/// answer 413 past them; the workerd tests send bodies over each).
#[test]
fn body_limits_are_64_and_256_kib() {
    assert_eq!(MAX_WEBHOOK_BODY, 65_536);
    assert_eq!(MAX_CLIENT_BACKUP_BODY, 262_144);
}
