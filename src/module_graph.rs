//! A test of the crate's shape: the modules must form no import cycle. A cycle means two modules
//! can only be understood (and changed) together; the layers are, bottom up: plain data (`change`,
//! `plan`), the AWS layer, the controls, their registry, the engine, the commands and the UI.
//!
//! Each `.rs` file under `src/` is a module. An edge A -> B is a path in A's code (outside comments
//! and A's own unit tests) that names B: `crate::b::...`, `super::...`, or `child::...` for a module
//! A declares with `mod child`. A `mod` declaration alone is not an edge: a parent may hold children
//! that use it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`["controls", "root"]`) for a file under `src/`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code that counts: comments stripped, and the file's tests dropped (tests may reach
/// anywhere): an inline `#[cfg(test)] mod tests { .. }` ends the code (it comes last), and a
/// `#[cfg(test)] mod NAME;` declaration is skipped (`test_only` gets NAME).
fn code_of(text: &str, test_only: &mut Vec<String>) -> String {
    let mut code = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            let next = lines.peek().map(|l| l.trim()).unwrap_or_default();
            match next.strip_prefix("mod ").and_then(|n| n.strip_suffix(';')) {
                Some(name) => {
                    test_only.push(name.trim().to_string());
                    lines.next();
                    continue;
                }
                None => break,
            }
        }
        if trimmed.starts_with("//") {
            continue;
        }
        let line = match line.find("//") {
            // A `//` inside a string (a URL) is kept: only paths are looked at, so harmless.
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        };
        code.push_str(line);
        code.push('\n');
    }
    code
}

/// Each maximal path of identifiers joined by `::` in `code`.
fn paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < bytes.len() {
        if !is_ident(bytes[i]) || (i > 0 && (is_ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        let mut segments = Vec::new();
        let mut j = i;
        loop {
            let start = j;
            while j < bytes.len() && is_ident(bytes[j]) {
                j += 1;
            }
            segments.push(code[start..j].to_string());
            if code[j..].starts_with("::") && code[j + 2..].starts_with(|c: char| is_ident(c as u8))
            {
                j += 2;
            } else {
                break;
            }
        }
        if code[j..].starts_with("::{") {
            // A group, `use super::{diff, Op}`: each item is a path under the prefix.
            let end = closing_brace(code, j + 2);
            for item in group_items(&code[j + 3..end]) {
                for rest in paths(&format!("{item}::_")) {
                    let mut full = segments.clone();
                    full.extend(rest.into_iter().filter(|s| s != "_"));
                    out.push(full);
                }
                if !item.contains("::") {
                    let mut full = segments.clone();
                    full.push(item.to_string());
                    out.push(full);
                }
            }
            i = end + 1;
            continue;
        }
        if segments.len() > 1 {
            out.push(segments);
        }
        i = j.max(i + 1);
    }
    out
}

/// The index of the `}` that closes the `{` at `open`.
fn closing_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, c) in code[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return open + k;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// The top-level items of a `{...}` group, trimmed (`self` and empty ones left out).
fn group_items(inner: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(inner[start..k].trim());
                start = k + 1;
            }
            _ => {}
        }
    }
    items.push(inner[start..].trim());
    items
        .into_iter()
        .map(|i| i.split(" as ").next().unwrap_or(i).trim())
        .filter(|i| !i.is_empty() && *i != "self")
        .collect()
}

/// The graph: module -> the modules its code names.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    // The longest known module that `path` (absolute, from the crate root) lies in.
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|m| modules.contains(m))
    };
    let mut graph = BTreeMap::new();
    let mut test_only: Vec<Vec<String>> = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module
            .first()
            .is_some_and(|m| m == "main" || m == "module_graph")
        {
            continue;
        }
        let text = std::fs::read_to_string(file).unwrap();
        let mut tests = Vec::new();
        let code = code_of(&text, &mut tests);
        test_only.extend(tests.into_iter().map(|t| {
            let mut m = module.clone();
            m.push(t);
            m
        }));
        let children: BTreeSet<String> = code
            .lines()
            .filter_map(|l| {
                let l = l.trim_start().trim_start_matches("pub ");
                let name = l.strip_prefix("mod ")?.trim_end().strip_suffix(';')?;
                Some(name.trim().to_string())
            })
            .collect();
        let mut edges = BTreeSet::new();
        for p in paths(&code) {
            let absolute: Vec<String> = match p[0].as_str() {
                "crate" => p[1..].to_vec(),
                "super" => {
                    let ups = p.iter().take_while(|s| *s == "super").count();
                    if ups > module.len() {
                        continue;
                    }
                    let mut a = module[..module.len() - ups].to_vec();
                    a.extend_from_slice(&p[ups..]);
                    a
                }
                "self" => {
                    let mut a = module.clone();
                    a.extend_from_slice(&p[1..]);
                    a
                }
                child if children.contains(child) => {
                    let mut a = module.clone();
                    a.extend_from_slice(&p);
                    a
                }
                _ => continue,
            };
            if let Some(target) = resolve(&absolute)
                && target != module
                && !target.is_empty()
            {
                edges.insert(target);
            }
        }
        graph.insert(module, edges);
    }
    // Test-only modules (`#[cfg(test)] mod tests;`) are tests: no edges from them count.
    for t in &test_only {
        graph.remove(t);
    }
    for edges in graph.values_mut() {
        for t in &test_only {
            edges.remove(t);
        }
    }
    graph
}

/// A cycle in the graph, if there is one (depth-first search).
fn find_cycle(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        marks: &mut BTreeMap<Vec<String>, Mark>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        match marks.get(node) {
            Some(Mark::Done) => return None,
            Some(Mark::Open) => {
                let from = stack.iter().position(|n| n == node).unwrap();
                let mut cycle: Vec<String> = stack[from..].iter().map(|m| m.join("::")).collect();
                cycle.push(node.join("::"));
                return Some(cycle);
            }
            None => {}
        }
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, marks, stack) {
                return Some(c);
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if let Some(c) = visit(node, graph, &mut marks, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_modules_form_no_cycle() {
    let mut graph = graph();
    let mut cycles = Vec::new();
    // Report every cycle, not just the first: cut one edge of each found and look again.
    while let Some(cycle) = find_cycle(&graph) {
        let key = |s: &String| s.split("::").map(String::from).collect::<Vec<_>>();
        let (from, to) = (key(&cycle[0]), key(&cycle[1]));
        graph.get_mut(&from).unwrap().remove(&to);
        cycles.push(cycle.join(" -> "));
    }
    assert!(cycles.is_empty(), "import cycles:\n{}", cycles.join("\n"));
}

#[test]
fn the_graph_sees_the_edges_it_should() {
    // The walker itself must find edges, or the test above proves nothing.
    let graph = graph();
    let edges = |m: &str| {
        let key: Vec<String> = m.split("::").map(String::from).collect();
        graph.get(&key).cloned().unwrap_or_default()
    };
    let has = |from: &str, to: &str| {
        let to: Vec<String> = to.split("::").map(String::from).collect();
        edges(from).contains(&to)
    };
    assert!(has("engine", "controls"), "{:?}", edges("engine"));
    assert!(has("commands", "engine"), "{:?}", edges("commands"));
    assert!(has("plan", "plan::validate"), "{:?}", edges("plan"));
    // Past a `#[cfg(test)] mod tests;` declaration the code still counts.
    assert!(
        has("controls::cloudtrail", "controls::cloudtrail::diff"),
        "{:?}",
        edges("controls::cloudtrail")
    );
    let tests: Vec<String> = ["controls", "cloudtrail", "tests"]
        .map(String::from)
        .to_vec();
    assert!(!graph.contains_key(&tests));

    let mut tiny = BTreeMap::new();
    let m = |s: &str| vec![s.to_string()];
    tiny.insert(m("a"), BTreeSet::from([m("b")]));
    tiny.insert(m("b"), BTreeSet::from([m("a")]));
    assert_eq!(find_cycle(&tiny).map(|c| c.len()), Some(3));
    tiny.insert(m("b"), BTreeSet::new());
    assert_eq!(find_cycle(&tiny), None);
}

#[test]
fn diffs_are_free_of_sdk_types_and_files_stay_small() {
    // The diff is pure: plain data in, plain data out. And no file grows past what one person
    // reads in one sitting.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut diffs = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let lines = text.lines().count();
        assert!(
            lines <= 900,
            "{} has {lines} lines (at most 900)",
            file.display()
        );
        if file.file_name().is_some_and(|n| n == "diff.rs") {
            diffs += 1;
            assert!(
                !text.contains("aws_sdk_"),
                "{} names an SDK crate",
                file.display()
            );
        }
    }
    assert!(diffs >= 3, "found {diffs} diff.rs files");
}
