//! A real headless browser for the dashboard's tests and benchmark:
//! Debian's `chromium`, driven through its `chromedriver` (package
//! `chromium-driver`) over WebDriver with the fantoccini client. Each
//! [`Browser`] runs its own chromedriver on a free loopback port and kills
//! it and its chromium when dropped (also when a test fails half-way),
//! then removes the temporary directory they wrote their profile and
//! sockets in (killed, chromium cleans up nothing).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Whether chromium and chromedriver are installed.
pub fn available() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

pub struct Browser {
    pub client: fantoccini::Client,
    driver: Child,
    /// Where screenshots go (`target/test-screenshots/<run>/`).
    shots: PathBuf,
    /// chromedriver's and chromium's `TMPDIR` (removed after they are killed).
    _tmp: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless chromium session (1400×900).
    pub async fn start(run: &str) -> Browser {
        assert!(
            available(),
            "{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        );
        let port = crate::free_port();
        let tmp = tempfile::tempdir().expect("a temporary directory");
        // Its own process group: chromium is chromedriver's child, and a
        // test that fails before `close` must not leave it running.
        let driver = Command::new(CHROMEDRIVER)
            .process_group(0)
            .env("TMPDIR", tmp.path())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let caps: serde_json::Map<String, serde_json::Value> =
            serde_json::from_value(serde_json::json!({
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,900"],
                }
            }))
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match fantoccini::ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() > deadline => {
                    panic!("no WebDriver session from chromedriver at {url} in 30s: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../target/test-screenshots")
            .join(run);
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            shots,
            _tmp: tmp,
        }
    }

    /// Saves a screenshot of the page as `<name>.png`, prints and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        let path = path.canonicalize().unwrap_or(path);
        println!("screenshot: {}", path.display());
        path
    }

    /// Runs a script in the page and returns its value.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
    }

    /// Ends the session (chromium exits); dropping stops chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// Kills chromedriver's process group (chromedriver and the chromium
    /// processes it started), then reaps chromedriver.
    fn drop(&mut self) {
        // SAFETY: the group this Browser made (`process_group(0)` above).
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}
