//! Everything the client's Durable Object holds, as the one value it stores
//! under one key, so each transaction is one storage write of one text:
//! the custodian directory, the client backups and the trash.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::client::ClientRecords;
use crate::store::custodian::DirectoryRecord;
use crate::store::trash::Trash;

const STATE_VERSION: u8 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupState {
    v: u8,
    pub custodian: DirectoryRecord,
    /// `None` until the client's records in the earlier KV layout were
    /// looked for and moved here (that needs the clientId, which only the
    /// messages carry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientRecords>,
    pub trash: Trash,
}

impl BackupState {
    /// A new object's state, or one that held only its custodian directory
    /// (under the key of the layout before this one).
    pub fn from_directory(custodian: DirectoryRecord) -> Self {
        Self {
            v: STATE_VERSION,
            custodian,
            client: None,
            trash: Trash::default(),
        }
    }

    /// The state from its stored text. Another version, a damaged text or
    /// an unsound record is `StoredRecordUnreadable`, never misread.
    pub fn parse(text: &str) -> Result<Self> {
        let state: Self =
            serde_json::from_slice(text.as_bytes()).map_err(|_| Error::StoredRecordUnreadable)?;
        let sound = state.v == STATE_VERSION
            && state.custodian.is_sound()
            && state.client.as_ref().is_none_or(ClientRecords::is_sound);
        if sound {
            Ok(state)
        } else {
            Err(Error::StoredRecordUnreadable)
        }
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::client::StoredVersion;
    use crate::store::custodian::version_from;

    fn state() -> BackupState {
        let mut custodian = DirectoryRecord::default();
        custodian.set(
            "GDRIVE-SECP256K1",
            version_from(&[1; 16]),
            "2026-12-06T00:00:00.000Z".into(),
        );
        let mut state = BackupState::from_directory(custodian);
        let mut client = ClientRecords::default();
        client.store(
            "PASSWORD",
            StoredVersion {
                backup_id: "b1".into(),
                backup_share_pair_ids: vec!["p".into()],
                created_at: "2026-12-06T00:00:00.000Z".into(),
                size: 64,
                portal_notified: true,
                confirmed: false,
            },
        );
        state.client = Some(client);
        state.trash.add("envelope/c/PASSWORD/b0".into(), 1_000);
        state
    }

    #[test]
    fn the_state_round_trips_through_its_text() {
        let state = state();
        assert_eq!(BackupState::parse(&state.to_text()), Ok(state.clone()));
        let fresh = BackupState::from_directory(DirectoryRecord::default());
        assert_eq!(BackupState::parse(&fresh.to_text()), Ok(fresh));
    }

    #[test]
    fn another_version_or_an_unsound_record_is_unreadable() {
        let text = state().to_text();
        for bad in [
            text.replacen(r#""v":1"#, r#""v":2"#, 1),
            text.replace("GDRIVE-SECP256K1", "a/b"),
            text.replace(r#""backupId":"b1""#, r#""backupId":"../b1""#),
            text.replace("PASSWORD", "YUBIKEY"),
            text.replace(r#""trash""#, r#""bin""#),
            "{".into(),
        ] {
            assert_eq!(
                BackupState::parse(&bad),
                Err(Error::StoredRecordUnreadable),
                "{bad}"
            );
        }
    }
}
