//! Crate errors as JS `Error`s carrying a stable `code`, the flow `step`
//! that failed, and an HTTP `status` where one applies.

use wasm_bindgen::prelude::*;

use crate::Error;
use crate::flow::Step;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR_CODES: &'static str = crate::error::TS_ERROR_CODES;

#[wasm_bindgen(typescript_custom_section)]
const TS_ERROR: &'static str = r#"
/** Every function of this package throws (or rejects with) this shape. */
export interface PortalBackupError extends Error {
  /** Stable code to switch on, e.g. "CANNOT_DECRYPT", "WRONG_PASSWORD", "NETWORK". */
  code: PortalBackupErrorCode;
  /** The flow step that failed, for backupWallet and recoverWallet. */
  step?: FlowStep;
  /** HTTP status, when the failure came from a server. */
  status?: number;
}
"#;

pub type JsResult<T> = Result<T, JsValue>;

/// An error and the step it happened in.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub step: Option<Step>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, step: None }
    }
}

impl Failure {
    pub fn at(step: Step, error: Error) -> Self {
        Failure { error, step: Some(step) }
    }

    pub fn to_js(&self) -> JsValue {
        let js = js_sys::Error::new(&self.error.message());
        js.set_name("PortalBackupError");
        let _ = js_sys::Reflect::set(&js, &"code".into(), &self.error.code().name().into());
        if let Some(step) = self.step {
            let _ = js_sys::Reflect::set(&js, &"step".into(), &step.name().into());
        }
        if let Error::Remote { status: Some(status), .. } = &self.error {
            let _ = js_sys::Reflect::set(&js, &"status".into(), &(*status).into());
        }
        js.into()
    }
}

impl From<Failure> for JsValue {
    fn from(failure: Failure) -> JsValue {
        failure.to_js()
    }
}

impl From<Error> for JsValue {
    fn from(error: Error) -> JsValue {
        Failure::from(error).to_js()
    }
}
