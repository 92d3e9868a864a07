//! The TypeScript types name every error code the package can throw
//! (`PortalBackupErrorCode`) and every problem `checkBackup` can report
//! (`BackupProblem`): a wallet that switches on `error.code` must not meet a
//! code its compiler never heard of. This reads the sources, so a new code
//! without its type fails here, natively.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Words in the sources that look like codes but are not the package's:
/// Portal's pair statuses, the Worker's own codes that
/// `src/browser/server.rs` maps to the package's, a serde rename rule and
/// proptest's environment variables.
const NOT_PACKAGE_CODES: &[&str] = &[
    "SCREAMING_SNAKE_CASE",
    "PROPTEST_CASES",
    "PROPTEST_RNG_ALGORITHM",
    "STORED_CLIENT_BACKUP_SHARE",
    "STORED_CLIENT_BACKUP_SHARE_KEY",
    "NOT_FOUND",
    "STORAGE_UNAVAILABLE",
    "RATE_LIMITED",
];

fn rust_sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((path.display().to_string(), fs::read_to_string(&path).unwrap()));
        }
    }
}

/// Every `"UPPER_CASE"` literal with an underscore, and every literal right
/// after `code: ` (one-word codes such as `NETWORK`).
fn code_literals(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (i, piece) in source.split('"').enumerate() {
        if i % 2 == 0 {
            continue;
        }
        let looks_like_code = !piece.is_empty()
            && piece.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && piece.starts_with(|c: char| c.is_ascii_uppercase());
        if looks_like_code && piece.contains('_') {
            found.insert(piece.to_owned());
        }
    }
    for (at, _) in source.match_indices("code: \"") {
        let rest = &source[at + 7..];
        if let Some(end) = rest.find('"') {
            found.insert(rest[..end].to_owned());
        }
    }
    found
}

/// The string literals of a TypeScript union `export type NAME = | "A" | "B" ...;`.
fn union_members(ts: &str, name: &str) -> BTreeSet<String> {
    let start = ts.find(&format!("export type {name} =")).unwrap_or_else(|| panic!("{name} is not declared"));
    let body = &ts[start..];
    let body = &body[..body.find(';').unwrap()];
    body.split('"').skip(1).step_by(2).map(str::to_owned).collect()
}

#[test]
fn every_code_the_package_throws_or_reports_is_in_its_typescript_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let js_error = fs::read_to_string(root.join("src/browser/js_error.rs")).unwrap();
    let options = fs::read_to_string(root.join("src/browser/options.rs")).unwrap();
    let error_codes = union_members(&js_error, "PortalBackupErrorCode");
    let problems = union_members(&options, "BackupProblem");
    assert!(error_codes.contains("CANNOT_DECRYPT") && problems.contains("BACKUP_OUTDATED"));

    let mut sources = Vec::new();
    rust_sources(&root.join("src"), &mut sources);
    let mut untyped = Vec::new();
    for (path, source) in &sources {
        // The TypeScript text itself is not a source of codes.
        if path.ends_with("js_error.rs") || path.ends_with("options.rs") {
            continue;
        }
        for code in code_literals(source) {
            let typed = error_codes.contains(&code) || problems.contains(&code);
            if !typed && !NOT_PACKAGE_CODES.contains(&code.as_str()) {
                untyped.push(format!("{code} ({path})"));
            }
        }
    }
    assert!(untyped.is_empty(), "codes missing from PortalBackupErrorCode / BackupProblem: {untyped:?}");

    // And no type names a code nothing throws.
    let all: String = sources
        .iter()
        .filter(|(path, _)| !path.ends_with("js_error.rs") && !path.ends_with("options.rs"))
        .map(|(_, s)| s.as_str())
        .collect();
    let stale: Vec<_> = error_codes.iter().filter(|code| !all.contains(&format!("\"{code}\""))).collect();
    assert!(stale.is_empty(), "typed but never thrown: {stale:?}");
}
