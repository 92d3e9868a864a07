//! `src/browser/` imports only downward: every `use super::…` names a module
//! of a lower layer than the file's own, in the order its module doc states
//! (src/browser/mod.rs). An import circle, or a service reaching up into the
//! flows, fails here.

use std::fs;
use std::path::Path;

/// The layers as src/browser/mod.rs's doc lists them: "1. `js`, `platform`, ...".
fn layers(module_doc: &str) -> Vec<Vec<String>> {
    let mut layers = Vec::new();
    for line in module_doc.lines().filter_map(|line| line.strip_prefix("//! ")) {
        let Some((number, rest)) = line.split_once(". ") else { continue };
        if number.parse::<usize>().is_err() {
            continue;
        }
        let names = rest.split(':').next().unwrap_or_default();
        let modules: Vec<String> = names.split('`').skip(1).step_by(2).map(str::to_owned).collect();
        layers.push(modules);
    }
    layers
}

/// The modules a file names in `use super::…` lines, braces included.
fn imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for statement in source.split(';') {
        let Some(at) = statement.find("use super::") else { continue };
        let path = &statement[at + "use super::".len()..];
        let path = path.trim();
        if let Some(group) = path.strip_prefix('{') {
            for item in group.trim_end_matches('}').split(',') {
                let module = item.trim().split("::").next().unwrap_or_default().trim();
                if !module.is_empty() {
                    found.push(module.to_owned());
                }
            }
        } else {
            found.push(path.split("::").next().unwrap_or_default().trim().to_owned());
        }
    }
    found
}

#[test]
fn browser_modules_import_only_from_lower_layers() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/browser");
    let layers = layers(&fs::read_to_string(dir.join("mod.rs")).unwrap());
    assert!(layers.len() >= 5, "src/browser/mod.rs must list its layers: {layers:?}");
    let layer_of = |module: &str| layers.iter().position(|layer| layer.iter().any(|m| m == module));
    let mut checked = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if module == "mod" {
            continue;
        }
        let own = layer_of(&module).unwrap_or_else(|| panic!("{module}.rs is in no layer of src/browser/mod.rs"));
        // A unit test's `use super::*` is its own module's items.
        for import in imports(&fs::read_to_string(&path).unwrap()).into_iter().filter(|import| import != "*") {
            let theirs = layer_of(&import).unwrap_or_else(|| panic!("{module}.rs imports {import}, which is in no layer"));
            assert!(theirs < own, "{module}.rs (layer {}) imports {import} (layer {}): not downward", own + 1, theirs + 1);
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} imports seen: the parser lost them");
}

#[test]
fn the_import_reader_sees_groups_and_paths() {
    let source = "use super::http::{self, Http};\nuse super::{js, platform};\nuse crate::Error;";
    assert_eq!(imports(source), ["http", "js", "platform"]);
}
