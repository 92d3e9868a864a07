//! A cloud key store: where GDRIVE and ICLOUD keep a backup's key, behind
//! what the flows need of one (create, read back, list, delete). Both list
//! their keys with the key itself (Drive in each key file's appProperties,
//! CloudKit in the record), so a recovery reads them in one request; Drive
//! key files from before appProperties held the key are downloaded. A
//! CloudKit web auth token is good for one request, so `Http` sends
//! iCloud's requests one at a time, whatever the flows join.

use alloc::string::String;
use alloc::vec::Vec;

use zeroize::Zeroizing;

use super::drive::Drive;
use super::http::Http;
use super::icloud::ICloud;
use super::join::{join, join_all};
use super::options::{Method, Options};
use crate::envelope::BackupKey;
use crate::{Error, ErrorCode};

pub enum KeyStore<'a> {
    Drive(Drive<'a>),
    ICloud(ICloud<'a>),
}

/// A listed key: its id (Drive file id, CloudKit record name) and, where
/// the listing carries it (iCloud), the key text.
pub struct ListedKey {
    pub id: String,
    pub key: Option<Zeroizing<String>>,
}

impl<'a> KeyStore<'a> {
    /// The store of a cloud method; `None` for PASSWORD and PASSKEY.
    pub fn of(method: Method, options: &'a Options, http: &'a Http<'a>) -> Result<Option<Self>, Error> {
        Ok(match method {
            Method::Gdrive => {
                options.drive_token_source()?;
                Some(KeyStore::Drive(Drive::new(http, &options.drive_api_url)))
            }
            Method::Icloud => Some(KeyStore::ICloud(ICloud::new(http, options.icloud()?))),
            Method::Password | Method::Passkey => None,
        })
    }

    /// Where the key lives, for messages.
    fn place(&self) -> &'static str {
        match self {
            KeyStore::Drive(_) => "google drive",
            KeyStore::ICloud(_) => "icloud",
        }
    }

    /// Stores `key_text` in a new file or record (never an overwrite: the
    /// older ones stay until the whole backup is confirmed); its id.
    pub async fn create(&self, name: &str, key_text: &str) -> Result<String, Error> {
        match self {
            KeyStore::Drive(drive) => drive.create_key_file(name, key_text).await,
            KeyStore::ICloud(icloud) => icloud.create(name, key_text).await,
        }
    }

    /// The storage check and the listing, one round trip: reads the new key
    /// back and lists every key of `name`, newest first. A key read back
    /// different from `key_text` (or missing) fails with
    /// STORAGE_CHECK_FAILED, after removing the new one.
    pub async fn check_and_list(&self, name: &str, new_id: &str, key_text: &str) -> Result<Vec<String>, Error> {
        let (read_back, listed) = match self {
            KeyStore::Drive(drive) => {
                // What recovery reads: the key in the file's appProperties.
                let (read_back, listed) = join(drive.read_key_property(new_id), drive.list_key_files(name)).await;
                (read_back.map(|key| key.map(Zeroizing::new)), listed?.into_iter().map(|file| file.id).collect())
            }
            KeyStore::ICloud(_) => {
                // The query answers with the keys: reading the new record
                // there is the read-back, without a second token.
                let listed = self.list(name).await?;
                let key = listed.iter().find(|key| key.id == new_id).and_then(|key| key.key.clone());
                (Ok(key), listed.into_iter().map(|key| key.id).collect())
            }
        };
        if read_back?.as_deref().map(|text| text.trim()) != Some(key_text) {
            let _ = self.delete(&[new_id.into()]).await;
            return Err(Error::remote(
                ErrorCode::StorageCheckFailed,
                &[self.place(), ": the key read back differs from what was written"].concat(),
                None,
            ));
        }
        Ok(listed)
    }

    /// Every key of `name`, newest first.
    pub async fn list(&self, name: &str) -> Result<Vec<ListedKey>, Error> {
        let listed: Vec<ListedKey> = match self {
            KeyStore::Drive(drive) => drive
                .list_key_files(name)
                .await?
                .into_iter()
                .map(|file| ListedKey { id: file.id, key: file.key.map(Zeroizing::new) })
                .collect(),
            KeyStore::ICloud(icloud) => icloud
                .list(name)
                .await?
                .into_iter()
                .map(|record| ListedKey { id: record.record_name, key: record.key.map(Zeroizing::new) })
                .collect(),
        };
        Ok(listed)
    }

    /// Recovery found no key at all.
    pub fn key_not_found(&self) -> Error {
        Error::remote(ErrorCode::KeyNotFound, &[self.place(), ": no backup key for this client in this account"].concat(), None)
    }

    /// Whether `list` leaves keys to read (Drive: every one).
    pub fn needs_reads(listed: &[ListedKey]) -> bool {
        listed.iter().any(|key| key.key.is_none())
    }

    /// The listed keys, reading those the listing did not carry, in
    /// parallel: newest first, `None` for one that is unreadable. One
    /// unreadable key is tolerated (it may belong to a half-failed backup);
    /// all unreadable is an error.
    pub async fn keys(&self, listed: Vec<ListedKey>) -> Result<Vec<Option<BackupKey>>, Error> {
        let texts: Vec<Result<Zeroizing<String>, Error>> = match self {
            // Key files from before appProperties held the key: their content.
            KeyStore::Drive(drive) => join_all(listed.into_iter().map(|key| async move {
                match key.key {
                    Some(text) => Ok(text),
                    None => drive.read_file(&key.id).await.map(Zeroizing::new),
                }
            }))
            .await,
            KeyStore::ICloud(_) => listed.into_iter().map(|key| key.key.ok_or(Error::MalformedKey)).collect(),
        };
        let mut first_error = None;
        let keys: Vec<Option<BackupKey>> = texts
            .into_iter()
            .map(|text| {
                let key = text.and_then(|text| BackupKey::from_text(&text));
                key.map_err(|error| first_error.get_or_insert(error)).ok()
            })
            .collect();
        match first_error {
            Some(error) if keys.iter().all(Option::is_none) => Err(error),
            _ => Ok(keys),
        }
    }

    /// Removes keys; one already gone counts as removed.
    pub async fn delete(&self, ids: &[String]) -> Result<(), Error> {
        match self {
            KeyStore::Drive(drive) => drive.delete_files(ids).await,
            KeyStore::ICloud(icloud) => icloud.delete(ids).await,
        }
    }
}
