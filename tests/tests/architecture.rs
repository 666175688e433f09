//! ARCHITECTURE.md's invariants, checked against `cargo metadata` and the
//! source tree, so the map cannot quietly drift from the code:
//! - no component crate depends on another component's crate (only on
//!   `minik-api` and `minik-client`), and none on the multi-call `minik`;
//! - only the kubelet and `miniktl cluster` touch Docker;
//! - only the API server opens the store (sled);
//! - every source file is named in ARCHITECTURE.md's code map;
//! - no kind name is compared outside the kind files (`kind == "Pod"`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The crates everything shares; every other workspace crate but the tests
/// and the multi-call executable is a component.
const SHARED: &[&str] = &["minik-api", "minik-client", "minik-tests"];

/// The multi-call executable: it depends on every component (it only
/// chooses one to run), and nothing depends on it.
const MULTI_CALL: &str = "minik";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn metadata() -> Value {
    let out = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// package name → names of its normal (non-dev) dependencies.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    metadata()["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// Every `.rs` file under `dir`, relative to the workspace root.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path.strip_prefix(root()).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

/// The production source files of every crate (`<crate>/src`).
fn crate_sources() -> Vec<PathBuf> {
    let root = root();
    [
        "api",
        "client",
        "apiserver",
        "controller",
        "scheduler",
        "kubelet",
        "proxy",
        "dns",
        "ctl",
        "dashboard",
        "minik",
    ]
    .iter()
    .flat_map(|c| sources(&root.join(c).join("src")))
    .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

#[test]
fn components_depend_only_on_the_shared_crates() {
    let deps = dependencies();
    let components: Vec<&String> = deps
        .keys()
        .filter(|p| !SHARED.contains(&p.as_str()) && p.as_str() != MULTI_CALL)
        .collect();
    assert!(components.len() >= 7, "{components:?}");
    let on_multi_call: Vec<&String> = deps
        .iter()
        .filter(|(_, d)| d.iter().any(|d| d == MULTI_CALL))
        .map(|(p, _)| p)
        .collect();
    assert!(
        on_multi_call.is_empty(),
        "{on_multi_call:?} depend on {MULTI_CALL}"
    );
    for component in &components {
        let crossing: Vec<&String> = deps[*component]
            .iter()
            .filter(|d| components.contains(d))
            .collect();
        assert!(
            crossing.is_empty(),
            "{component} depends on another component's crate: {crossing:?}"
        );
    }
}

#[test]
fn only_the_kubelet_and_miniktl_cluster_touch_docker() {
    let deps = dependencies();
    for (package, d) in &deps {
        if d.iter().any(|d| d == "bollard") {
            assert!(
                package == "minik-kubelet" || package == "minik-tests",
                "{package} depends on bollard"
            );
        }
    }
    for file in crate_sources() {
        let text = read(&file);
        let touches = text.contains("bollard::") || text.contains("Command::new(\"docker\")");
        let allowed = file.starts_with("kubelet/src") || file.starts_with("ctl/src/cluster");
        assert!(!touches || allowed, "{} touches Docker", file.display());
    }
}

#[test]
fn only_the_api_server_opens_the_store() {
    let deps = dependencies();
    for (package, d) in &deps {
        if d.iter().any(|d| d == "sled") {
            assert!(
                package == "minik-apiserver" || package == "minik-tests",
                "{package} depends on sled"
            );
        }
    }
    for file in crate_sources() {
        if read(&file).contains("sled::") {
            assert!(
                file.starts_with("apiserver/src"),
                "{} uses sled",
                file.display()
            );
        }
    }
}

#[test]
fn every_source_file_is_in_the_code_map() {
    let map = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    assert!(map.contains("Every crate's `lib.rs` is its tour"));
    let mut missing = Vec::new();
    for file in crate_sources() {
        let krate = file
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        // The crate's section: from its `### `<crate>/`` heading to the next heading.
        let heading = format!("### `{krate}/`");
        let start = map
            .find(&heading)
            .unwrap_or_else(|| panic!("ARCHITECTURE.md has no section {heading}"));
        let section = &map[start..];
        let end = section[heading.len()..]
            .find("\n### ")
            .or_else(|| section[heading.len()..].find("\n## "))
            .map_or(section.len(), |e| e + heading.len());
        let section = &section[..end];
        let name = file.file_name().unwrap().to_str().unwrap();
        // Crate roots, binaries, command lines and module roots are named
        // by convention (the map says so once).
        if matches!(name, "lib.rs" | "main.rs" | "cli.rs" | "mod.rs") {
            continue;
        }
        let in_src = file.strip_prefix(format!("{krate}/src")).unwrap();
        // Named in its crate's section by its name or its path in `src`
        // (`create.rs`, `rest/create.rs`), or anywhere by its full path
        // (`apiserver/src/main.rs` under "Entry points").
        let named = section.contains(&format!("`{name}`"))
            || section.contains(&format!("`{}`", in_src.display()))
            || map.contains(&format!("`{}`", file.display()));
        if !named {
            missing.push(file.display().to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "not named in ARCHITECTURE.md's code map: {missing:#?}"
    );
}

#[test]
fn no_kind_is_compared_outside_the_kind_files() {
    let mut found = Vec::new();
    for file in crate_sources() {
        if !(file.starts_with("api/src") || file.starts_with("apiserver/src")) {
            continue;
        }
        if file.starts_with("api/src/kinds") {
            continue;
        }
        let text = read(&file);
        // Unit tests may name kinds; the rule is for the code they test.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (i, line) in code.lines().enumerate() {
            let l = line.replace(' ', "");
            if l.contains("kind==\"")
                || l.contains("kind!=\"")
                || l.contains("matchinfo.kind")
                || l.contains("(info.group,info.kind)")
            {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "kind comparisons outside api/src/kinds: {found:#?}"
    );
}
