//! Crate errors as JS `Error`s carrying a stable `code` (and an HTTP
//! `status` where one applies).

use wasm_bindgen::prelude::*;

use crate::Error;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
/** Every function of this package throws (or rejects with) this shape. */
export interface PortalBackupError extends Error {
  /** Stable code to switch on, e.g. "CANNOT_DECRYPT", "WRONG_PASSWORD". */
  code: string;
  /** HTTP status, when the failure came from a server. */
  status?: number;
}
"#;

pub type JsResult<T> = Result<T, JsValue>;

impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        let js = js_sys::Error::new(&error.to_string());
        js.set_name("PortalBackupError");
        let _ = js_sys::Reflect::set(&js, &"code".into(), &error.code().into());
        if let Error::Remote { status: Some(status), .. } = &error {
            let _ = js_sys::Reflect::set(&js, &"status".into(), &(*status).into());
        }
        js.into()
    }
}
