//! Golden files: a test's whole output compared with one checked in under
//! `tests/golden/`, after the parts that differ from run to run (clock
//! times, generated names, IPs, counts that depend on timing) are replaced
//! by placeholders. `MINIK_UPDATE_GOLDEN=1` rewrites the files instead of
//! comparing — review the diff before committing it.

use std::path::PathBuf;

use regex::Regex;

/// Placeholders for what changes between runs of any test: clock times
/// (`14:02:07` → `hh:mm:ss`) and cluster IPs (`10.96.0.12` → `10.x.x.x`).
pub fn normalize_common(text: &str) -> String {
    let time = Regex::new(r"\b\d\d:\d\d:\d\d\b").unwrap();
    let ip = Regex::new(r"\b10\.\d+\.\d+\.\d+\b").unwrap();
    let text = time.replace_all(text, "hh:mm:ss");
    ip.replace_all(&text, "10.x.x.x").into_owned()
}

/// Replaces every match of `pattern` with `with` (regex syntax, `$1` for groups).
pub fn replace(text: &str, pattern: &str, with: &str) -> String {
    Regex::new(pattern)
        .unwrap()
        .replace_all(text, with)
        .into_owned()
}

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("golden")
        .join(format!("{name}.txt"))
}

/// Asserts `actual` equals the golden file `name` (or rewrites it).
pub fn assert_golden(name: &str, actual: &str) {
    let file = path(name);
    if updating() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (MINIK_UPDATE_GOLDEN=1 writes it)", file.display()));
    if expected != actual {
        let mut diff = String::new();
        let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
        for i in 0..e.len().max(a.len()) {
            let (l, r) = (e.get(i).copied(), a.get(i).copied());
            if l != r {
                diff.push_str(&format!(
                    "line {}:\n  golden: {}\n  actual: {}\n",
                    i + 1,
                    l.unwrap_or("<none>"),
                    r.unwrap_or("<none>")
                ));
            }
        }
        panic!(
            "{} differs from this run's output:\n{diff}\nthe whole output:\n{actual}",
            file.display()
        );
    }
}

/// Whether the golden files are being rewritten (`MINIK_UPDATE_GOLDEN=1`).
pub fn updating() -> bool {
    std::env::var("MINIK_UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// Whether `actual` equals the golden file `name`.
pub fn matches(name: &str, actual: &str) -> bool {
    std::fs::read_to_string(path(name)).is_ok_and(|e| e == actual)
}

/// Reads an output (`read`) until, normalized, it matches the golden file
/// `name` — what it describes (Events, statuses) lands a moment after the
/// state it follows — then asserts it, failing with the diff once `timeout`
/// has passed. When the files are being rewritten, the output is taken
/// once `settled` holds for it. Returns the last output as read.
pub async fn assert_eventually<R, F>(
    name: &str,
    timeout: std::time::Duration,
    read: R,
    normalize: impl Fn(&str) -> String,
    settled: impl Fn(&str) -> bool,
) -> String
where
    R: Fn() -> F,
    F: std::future::Future<Output = String>,
{
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let out = read().await;
        let normalized = normalize(&out);
        let done = if updating() {
            settled(&out)
        } else {
            matches(name, &normalized)
        };
        if done || std::time::Instant::now() > deadline {
            assert_golden(name, &normalized);
            return out;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
