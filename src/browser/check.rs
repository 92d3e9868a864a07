//! `checkBackup`: is this wallet recoverable right now? A recovery run in
//! memory and wiped after, beside the server's summary of the client half
//! and its list of Portal's custodian deliveries. The two lists ride along
//! the recovery's first round trip, so the check takes as many sequential
//! round trips as the recovery: two with Drive, one with a password or a
//! passkey (whose prompt is local, not a request).

use alloc::vec::Vec;

use super::flows::{self, Flow};
use super::http::Http;
use super::join::join;
use super::js_error::Failure;
use super::options::Options;
use super::results::{Checked, Problem};
use super::webcrypto;
use crate::ErrorCode;

/// `device_backup`: the device's current plaintext, compared by SHA-256
/// digest with what the backup opens to.
pub async fn check(options: &Options, device_backup: Option<Vec<u8>>) -> Result<Checked, Failure> {
    let method = options.method()?;
    let http = Http::new(options);
    let server = &Flow::new(options, &http).server;
    let lists = join(server.list(), server.custodian_list());
    let (opened, (client, custodian)) = join(flows::recover(options), lists).await;

    let mut problems: Vec<Problem> = Vec::new();
    let mut problem = |found: Problem| {
        if !problems.contains(&found) {
            problems.push(found);
        }
    };
    let opened = match opened {
        // Bad options are the caller's bug, not the backup's state.
        Err(failure) if failure.error.code() == ErrorCode::InvalidInput => return Err(failure),
        Err(failure) => {
            problem(Problem::Failed(failure.error.code()));
            None
        }
        Ok(recovered) => Some(recovered),
    };
    let client_known = client.is_ok();
    let current = match client {
        Ok(backups) => backups.into_iter().find(|backup| backup.backup_method == method.name()),
        Err(error) => {
            problem(Problem::Failed(error.code()));
            None
        }
    };
    if current.as_ref().is_some_and(|current| !current.confirmed) {
        problem(Problem::Unconfirmed);
    }
    // Whether Portal knows of the version recovery would open: an
    // unfinished newer one is never told SHARE (that follows its confirm),
    // and BACKUP_UNCONFIRMED already says it is unfinished.
    let notified = opened.as_ref().map(|opened| &opened.backup).or(current.as_ref()).map(|backup| backup.portal_notified);
    if notified == Some(false) {
        problem(Problem::PortalNotNotified);
    }
    // Portal names its deliveries by method, per curve: GDRIVE-SECP256K1.
    let custodian_stored = match custodian {
        Ok(deliveries) => {
            let stored = deliveries.iter().any(|delivery| {
                delivery
                    .backup_method
                    .strip_prefix(method.name())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
            });
            if !stored && current.is_some() {
                problem(Problem::CustodianMissing);
            }
            Some(stored)
        }
        // Not known to be missing: the failed list is the problem.
        Err(error) => {
            problem(Problem::Failed(error.code()));
            None
        }
    };
    if let Some(recovered) = &opened {
        let bytes = &recovered.plaintext;
        let mut plaintext = zeroize::Zeroizing::new(bytes.to_vec());
        bytes.fill(0, 0, bytes.length());
        if let Some(device) = device_backup.map(zeroize::Zeroizing::new) {
            // One after the other: local work, and one join less in the package.
            if webcrypto::sha256(&plaintext).await? != webcrypto::sha256(&device).await? {
                problem(Problem::Outdated);
            }
        }
        plaintext.clear();
    }
    let recoverable =
        opened.is_some() && problems.iter().all(|found| *found == Problem::Unconfirmed) && custodian_stored == Some(true);
    // The version that would be recovered, else the server's current one.
    let created_at = opened.as_ref().map(|opened| &opened.backup).or(current.as_ref()).map(|backup| backup.created_at.clone());
    Ok(Checked {
        method,
        recoverable,
        created_at,
        // None where the server could not be asked: unknown, not false.
        portal_notified: client_known.then_some(notified == Some(true)),
        custodian_stored,
        problems,
    })
}
