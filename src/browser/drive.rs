//! Google Drive v3: the key file in appDataFolder, as requests on the one
//! request path (`http`). Decisions (names, bodies, what an error means)
//! live in `crate::drive`.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use super::http::{self, Answer, Request, Service};
use super::js;
use crate::Error;
use crate::drive::{self as core, DriveFile};

pub const DEFAULT_API_URL: &str = "https://www.googleapis.com";

pub struct Drive<'a> {
    api_url: &'a str,
}

impl<'a> Drive<'a> {
    pub fn new(api_url: &'a str) -> Self {
        Drive { api_url: api_url.trim_end_matches('/') }
    }

    fn request(&self, method: &'static str, path: &[&str], answer: Answer) -> Request {
        let mut url = String::from(self.api_url);
        path.iter().for_each(|part| url.push_str(part));
        Request::new(Service::Drive, method, url, answer)
    }

    /// Creates a new key file (never an overwrite: the old one stays until
    /// the whole backup is confirmed). Answers `{id}`.
    pub fn create_key_file(&self, name: &str, key_text: &str) -> Result<Request, Error> {
        let mut boundary_bytes = [0u8; 16];
        getrandom::fill(&mut boundary_bytes).map_err(|_| Error::Randomness)?;
        let boundary = ["portal-backup-", &core::hex_lower(&boundary_bytes)].concat();
        let upload = core::multipart_create_body(name, key_text.as_bytes(), &boundary)?;
        let request = self.request("POST", &["/upload/drive/v3/files?uploadType=multipart&fields=id"], Answer::Json);
        Ok(request.bytes(upload.content_type, &upload.body))
    }

    /// Answers the file's content as text.
    pub fn read_file(&self, file_id: &str) -> Request {
        self.request("GET", &["/drive/v3/files/", &core::percent_encode(file_id), "?alt=media"], Answer::Text)
    }

    /// Every key file of that name; `key_file_ids` reads the answer.
    pub fn list_key_files(&self, name: &str) -> Request {
        self.request("GET", &["/drive/v3/files?", &core::list_query(name)], Answer::Json)
    }

    pub fn delete_file(&self, file_id: &str) -> Request {
        self.request("DELETE", &["/drive/v3/files/", &core::percent_encode(file_id)], Answer::Nothing)
    }
}

/// The id of the file `create_key_file` made.
pub fn created_file_id(answer: &JsValue) -> Result<String, Error> {
    js::string(answer, "id").ok_or_else(http::bad_answer)
}

/// The listed key files' ids, newest first.
pub fn key_file_ids(answer: &JsValue) -> Result<Vec<String>, Error> {
    // Drive leaves `files` out of an empty answer when fields= asks for it only.
    let listed = js::array(answer, "files").unwrap_or_default();
    let files: Option<Vec<DriveFile>> = listed
        .iter()
        .map(|file| {
            Some(DriveFile { id: js::string(&file, "id")?, modified_time: js::opt_string(&file, "modifiedTime")? })
        })
        .collect();
    let files = core::newest_first(files.ok_or_else(http::bad_answer)?);
    Ok(files.into_iter().map(|file| file.id).collect())
}

pub fn error(code: &'static str, status: Option<u16>) -> Error {
    let message = match code {
        "DRIVE_UNAUTHENTICATED" => {
            "google drive: it refused the access token, also after getDriveToken() gave a new one"
        }
        "DRIVE_QUOTA_EXCEEDED" => "google drive: the user's Google Drive is full",
        "DRIVE_PERMISSION_DENIED" => "google drive: access denied (is the drive.appdata scope granted?)",
        "DRIVE_NOT_FOUND" => "google drive: the key file is not there",
        "DRIVE_RATE_LIMITED" => "google drive: it kept rate-limiting the requests",
        "DRIVE_UNAVAILABLE" => "google drive: it kept failing",
        _ => "google drive: it refused the request",
    };
    Error::Remote { code, message: message.into(), status }
}
