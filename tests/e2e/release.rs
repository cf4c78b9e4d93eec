//! The release workflow and the README agree: every target `.github/workflows/release.yml` builds
//! is named in the README with its archive, and the workflow pins the same cargo-zigbuild and zig
//! as `scripts/release`. Nothing here can run the workflow; this keeps what it promises in line.
//!
//! The workflow is read line by line, not with a YAML parser (a dependency for one file): the
//! matrix entries are the lines `- target: NAME` under `matrix: include:`. The test fails if that
//! shape changes so that no target is found.

use std::collections::BTreeMap;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Each matrix entry of the workflow: target -> its other keys (`os`, `glibc`, `build-tool`).
fn matrix(workflow: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut entries = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_include = false;
    for line in workflow.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if trimmed == "include:" {
            in_include = true;
            continue;
        }
        if !in_include {
            continue;
        }
        // The first line after the list at a shallower indent than "- " ends it.
        if trimmed == "runs-on: ${{ matrix.os }}" {
            break;
        }
        let (key, value) = match trimmed.strip_prefix("- ") {
            Some(first) => {
                let (k, v) = first.split_once(':').expect("a key: value list entry");
                assert_eq!(
                    k, "target",
                    "each matrix entry starts with its target: {line}"
                );
                current = Some(v.trim().to_string());
                entries.insert(v.trim().to_string(), BTreeMap::new());
                continue;
            }
            None => trimmed.split_once(':').expect("key: value"),
        };
        let target = current.as_ref().expect("a key before any target");
        entries
            .get_mut(target)
            .unwrap()
            .insert(key.trim().to_string(), value.trim().to_string());
    }
    entries
}

fn pin(text: &str, name: &str) -> String {
    let at = text
        .find(&format!("{name}=="))
        .unwrap_or_else(|| panic!("no pin for {name}"));
    let rest = &text[at + name.len() + 2..];
    rest.chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect()
}

#[test]
fn every_target_the_release_workflow_builds_is_in_the_readme() {
    let workflow = read(".github/workflows/release.yml");
    let readme = read("README.md");
    let targets = matrix(&workflow);
    let names: Vec<&str> = targets.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "aarch64-apple-darwin",
            "aarch64-unknown-linux-gnu",
            "x86_64-apple-darwin",
            "x86_64-unknown-linux-gnu"
        ],
        "the targets the issue asks for"
    );
    for (target, keys) in &targets {
        let archive = format!("aws-harden-{target}.tar.gz");
        assert!(
            readme.contains(&archive),
            "README does not name {archive} ({target} is built by the release workflow)"
        );
        if target.contains("linux") {
            assert_eq!(
                keys.get("glibc").map(String::as_str),
                Some(".2.17"),
                "{target}"
            );
            assert_eq!(
                keys.get("build-tool").map(String::as_str),
                Some("cargo-zigbuild")
            );
        } else {
            assert_eq!(
                keys.get("os").map(String::as_str),
                Some("macos-15"),
                "{target}"
            );
        }
    }
}

#[test]
fn the_workflow_pins_the_same_zig_toolchain_as_scripts_release() {
    let workflow = read(".github/workflows/release.yml");
    let script = read("scripts/release");
    let script_pin = |var: &str| {
        let line = script
            .lines()
            .find(|l| l.starts_with(&format!("{var}=")))
            .unwrap_or_else(|| panic!("scripts/release sets no {var}"));
        line.split('"').nth(1).unwrap().to_string()
    };
    let zigbuild = script_pin("CARGO_ZIGBUILD_VERSION");
    let zig = script_pin("ZIGLANG_VERSION");
    assert_eq!(pin(&workflow, "cargo-zigbuild"), zigbuild);
    assert_eq!(pin(&workflow, "ziglang"), zig);
    assert_ne!(zig, "0.16.0", "ziglang 0.16.0 has the `ar` regression");
}
