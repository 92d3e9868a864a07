//! Every code the package throws is an `ErrorCode` variant (the compiler
//! holds the sources to it, and the TypeScript union is generated from it:
//! src/error.rs). What is left to keep in step by hand is the reader's
//! table: every code has its row in docs/BROWSER.md.

use std::fs;
use std::path::Path;

use portal_backup::ErrorCode;

#[test]
fn every_error_code_has_its_row_in_the_browser_docs() {
    let docs = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/BROWSER.md")).unwrap();
    let table = &docs[docs.find("## Error codes").expect("docs/BROWSER.md has an Error codes section")..];
    let missing: Vec<&str> = ErrorCode::ALL
        .iter()
        .map(|code| code.name())
        .filter(|name| !table.contains(&format!("| `{name}` |")))
        .collect();
    assert!(missing.is_empty(), "codes without a row in docs/BROWSER.md's Error codes table: {missing:?}");
    let rows = table.lines().take_while(|line| !line.starts_with("## Retries")).filter(|line| line.starts_with("| `")).count();
    assert_eq!(rows, ErrorCode::ALL.len(), "a row for a code the package does not have");
}
