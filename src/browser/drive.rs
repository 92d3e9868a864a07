//! Google Drive v3: the key file in appDataFolder. Each call is one request
//! on the one request path (`http`), its answer read here into a Rust
//! value. Decisions (names, bodies, what an error means) live in
//! `crate::drive`.

use alloc::string::String;
use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

use super::http::{self, Answer, Auth, Http, Request, Verdict};
use super::join::join_all;
use super::js;
use crate::drive::{self as core, DriveFailure, DriveFile};
use crate::{Error, ErrorCode};

pub struct Drive<'a> {
    http: &'a Http<'a>,
    api_url: &'a str,
}

impl<'a> Drive<'a> {
    pub fn new(http: &'a Http<'a>, api_url: &'a str) -> Self {
        Drive { http, api_url: api_url.trim_end_matches('/') }
    }

    fn request(&self, method: &'static str, path: &[&str], answer: Answer) -> Request {
        let mut url = String::from(self.api_url);
        path.iter().for_each(|part| url.push_str(part));
        Request::new(Auth::Drive, read_error, method, url, answer)
    }

    /// Creates a new key file (never an overwrite: the old one stays until
    /// the whole backup is confirmed); its file id.
    pub async fn create_key_file(&self, name: &str, key_text: &str) -> Result<String, Error> {
        let mut boundary_bytes = [0u8; 16];
        getrandom::fill(&mut boundary_bytes).map_err(|_| Error::Randomness)?;
        let boundary = ["portal-backup-", &core::hex_lower(&boundary_bytes)].concat();
        let upload = core::multipart_create_body(name, key_text.as_bytes(), &boundary)?;
        let request = self.request("POST", &["/upload/drive/v3/files?uploadType=multipart&fields=id"], Answer::Json);
        let answer = self.http.send(&request.bytes(upload.content_type, &upload.body)).await?;
        js::string(&answer, "id").ok_or_else(http::bad_answer)
    }

    /// The file's content as text: the key of a key file written before
    /// keys were kept in `appProperties` too.
    pub async fn read_file(&self, file_id: &str) -> Result<String, Error> {
        let request = self.request("GET", &["/drive/v3/files/", &core::percent_encode(file_id), "?alt=media"], Answer::Text);
        self.http.send(&request).await?.as_string().ok_or_else(http::bad_answer)
    }

    /// The key a key file's `appProperties` hold, read back by the file's id.
    pub async fn read_key_property(&self, file_id: &str) -> Result<Option<String>, Error> {
        let path = ["/drive/v3/files/", &core::percent_encode(file_id), "?fields=appProperties"];
        let answer = self.http.send(&self.request("GET", &path, Answer::Json)).await?;
        Ok(js::string(&js::field(&answer, "appProperties"), core::KEY_PROPERTY))
    }

    /// Every key file of that name, newest first, with the key its
    /// `appProperties` hold.
    pub async fn list_key_files(&self, name: &str) -> Result<Vec<DriveFile>, Error> {
        let answer = self.http.send(&self.request("GET", &["/drive/v3/files?", &core::list_query(name)], Answer::Json)).await?;
        // Drive leaves `files` out of an empty answer when fields= asks for it only.
        let listed = js::field(&answer, "files");
        let listed = if listed.is_undefined() { js_sys::Array::new().into() } else { listed };
        let files = js::each(&listed, |file| {
            Some(DriveFile {
                id: js::string(&file, "id")?,
                modified_time: js::opt_string(&file, "modifiedTime")?,
                key: js::string(&js::field(&file, "appProperties"), core::KEY_PROPERTY),
            })
        });
        Ok(core::newest_first(files.ok_or_else(http::bad_answer)?))
    }

    /// Deletes files in parallel; one already gone counts as deleted.
    pub async fn delete_files(&self, file_ids: &[String]) -> Result<(), Error> {
        let requests: Vec<Request> = file_ids
            .iter()
            .map(|id| self.request("DELETE", &["/drive/v3/files/", &core::percent_encode(id)], Answer::Nothing))
            .collect();
        for result in join_all(requests.iter().map(|request| self.http.send(request))).await {
            match result {
                Err(error) if error.code() != ErrorCode::DriveNotFound => return Err(error),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Drive v3's error answer: `error.errors[0].reason` beside the status.
fn read_error(status: u16, body: &JsValue) -> Verdict {
    let reason = js::array(&js::field(body, "error"), "errors").and_then(|errors| js::string(&errors.get(0), "reason"));
    match core::classify_failure(status, reason.as_deref()) {
        DriveFailure::Retry => Verdict::Retry(core::error(core::exhausted_code(status), Some(status)), 0.0),
        DriveFailure::RefreshToken => Verdict::RefreshToken(core::error(ErrorCode::DriveUnauthenticated, Some(401))),
        DriveFailure::Fail(code) => Verdict::Fail(core::error(code, Some(status))),
    }
}
