//! The proptest configuration and the strategies that the property tests of
//! both crates share: `tests/properties.rs` and `src/base64url.rs` (the
//! root crate), `worker/tests/properties.rs` (the Worker). A dev-dependency
//! of both, native only; strategies that need the crates' own types stay in
//! their test files.
//!
//! 10,000 cases per property by default; `PROPTEST_CASES=N` runs N
//! (docs/RELIABILITY.md §3).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngAlgorithm;
use serde_json::Value;

/// 10,000 cases unless `PROPTEST_CASES` is set (proptest's own `default()`
/// reads it; we only raise the default from its 256). XorShift instead of
/// ChaCha unless `PROPTEST_RNG_ALGORITHM` says otherwise: unoptimised ChaCha
/// took a third of the run, and test inputs need no cryptographic RNG.
pub fn config() -> ProptestConfig {
    let mut config = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = 10_000;
    }
    if std::env::var_os("PROPTEST_RNG_ALGORITHM").is_none() {
        config.rng_algorithm = RngAlgorithm::XorShift;
    }
    config
}

/// A tenth of [`config`]'s cases (at least one), for a property whose cases
/// are expensive.
pub fn tenth_of_config() -> ProptestConfig {
    let config = config();
    ProptestConfig {
        cases: (config.cases / 10).max(1),
        ..config
    }
}

/// Strings matching `pattern`. Parsed once: a bare `&str` strategy parses
/// its regex again for every case, which took most of a run.
pub fn matching(pattern: &str) -> impl Strategy<Value = String> + use<> {
    proptest::string::string_regex(pattern).unwrap()
}

/// Up to `max_len` characters of near-base64url: the alphabet with padding,
/// the standard alphabet's `+` and `/`, and whitespace mixed in.
pub fn near_base64url(max_len: usize) -> impl Strategy<Value = String> + use<> {
    matching(&format!("[A-Za-z0-9_=+/ \t\r\n-]{{0,{max_len}}}"))
}

/// `[A-Za-z0-9_-]{1,128}`: what the Worker lets into a KV key (short ones
/// and the 128-character edge).
pub fn safe_id() -> impl Strategy<Value = String> {
    prop_oneof![
        matching("[A-Za-z0-9_-]{1,24}"),
        matching("[A-Za-z0-9_-]{128}")
    ]
}

/// Anything a caller might put where an id goes: safe ids, hostile ones
/// (separators, escapes, Unicode, too long), and empty.
pub fn any_id() -> impl Strategy<Value = String> {
    prop_oneof![
        safe_id(),
        any::<String>(),
        matching("[A-Za-z0-9_./:%-]{0,8}"),
        matching("[a-z]{129,140}"),
    ]
}

/// Any JSON value up to three levels deep: every scalar type (finite
/// numbers, any Unicode string, safe ids), arrays and objects with any keys.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|n| serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        safe_id().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(any::<String>(), inner, 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

/// `bytes` with one byte replaced by any other value, or cut short there:
/// what a damaged record or a request broken in transit looks like.
pub fn damaged(bytes: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (bytes, any::<Index>(), any::<u8>(), any::<bool>()).prop_map(|(mut bytes, at, byte, cut)| {
        if bytes.is_empty() {
            return bytes;
        }
        let at = at.index(bytes.len());
        if cut {
            bytes.truncate(at);
        } else {
            bytes[at] = byte;
        }
        bytes
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Proptest's own variables still win over these defaults.
    #[test]
    fn the_configuration_raises_the_case_count_unless_told() {
        let config = config();
        match std::env::var("PROPTEST_CASES") {
            Ok(cases) => assert_eq!(config.cases.to_string(), cases),
            Err(_) => assert_eq!(config.cases, 10_000),
        }
        assert_eq!(tenth_of_config().cases, (config.cases / 10).max(1));
    }

    #[test]
    fn the_strategies_give_what_they_say() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let id = safe_id().new_tree(&mut runner).unwrap().current();
            assert!((1..=128).contains(&id.len()), "{id:?}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            );
            let text = near_base64url(8).new_tree(&mut runner).unwrap().current();
            assert!(text.chars().count() <= 8, "{text:?}");
            let original = vec![7u8; 10];
            let changed = damaged(Just(original.clone()))
                .new_tree(&mut runner)
                .unwrap()
                .current();
            assert!(
                changed.len() < 10
                    || changed
                        .iter()
                        .zip(&original)
                        .filter(|(a, b)| a != b)
                        .count()
                        <= 1,
                "{changed:?}"
            );
        }
    }
}
