//! Reading and writing plain JS values by hand, over `Reflect`.
//! serde-wasm-bindgen did the same with about 40 KiB more wasm (serde's
//! error formatting pulls in float printing); the package size matters more
//! than the convenience.

use alloc::string::String;
use alloc::vec::Vec;

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::prelude::*;

pub fn field(value: &JsValue, key: &str) -> JsValue {
    if !value.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn string(value: &JsValue, key: &str) -> Option<String> {
    field(value, key).as_string()
}

/// `Some(None)` for a missing or null field, `None` for one of another type.
pub fn opt_string(value: &JsValue, key: &str) -> Option<Option<String>> {
    let v = field(value, key);
    if v.is_undefined() || v.is_null() { Some(None) } else { v.as_string().map(Some) }
}

pub fn boolean(value: &JsValue, key: &str) -> Option<bool> {
    field(value, key).as_bool()
}

pub fn number(value: &JsValue, key: &str) -> Option<f64> {
    field(value, key).as_f64()
}

pub fn array(value: &JsValue, key: &str) -> Option<Array> {
    let v = field(value, key);
    Array::is_array(&v).then(|| v.unchecked_into())
}

/// `value[key]` as strings, if it is an array of strings.
pub fn strings(value: &JsValue, key: &str) -> Option<Vec<String>> {
    each(&field(value, key), |item| item.as_string())
}

/// `read` of every item of `value`, if it is an array and every item reads.
/// One loop for every list the package reads: `collect` into an `Option`
/// would be one more iterator adapter per item type.
pub fn each<T>(value: &JsValue, read: impl Fn(JsValue) -> Option<T>) -> Option<Vec<T>> {
    let items: &Array = value.dyn_ref()?;
    let mut out = Vec::with_capacity(items.length() as usize);
    for item in items.iter() {
        out.push(read(item)?);
    }
    Some(out)
}

/// A JS object from (key, value) pairs.
pub fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object: JsValue = Object::new().into();
    for (key, value) in pairs {
        set(&object, key, value);
    }
    object
}

pub fn set(object: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(object, &JsValue::from_str(key), value);
}

pub fn string_array(items: &[String]) -> JsValue {
    items.iter().map(|s| JsValue::from_str(s)).collect::<Array>().into()
}

/// Sets `object[key]` to `value` when there is one.
pub fn set_string(object: &JsValue, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        set(object, key, &value.into());
    }
}
