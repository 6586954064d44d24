//! A real MongoDB-compatible server for tests: SecantusDB's `secantusd-rs`, started once per
//! test binary on a free port with its data in a temporary folder, or the server named by
//! `MONGODB_URI`. The binary is installed by `scripts/test.sh` (see `scripts/lib.sh`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

use mongodb::{Client, Database};

/// Runs the server and kills it when our end of its stdin closes, which happens however the
/// test process ends (even on SIGKILL), so no server outlives its tests.
const WATCHDOG: &str = r#""$@" & pid=$!; read -r _; kill "$pid" 2>/dev/null; wait "$pid""#;

/// Where `secantusd-rs` is: `SECANTUSD_BIN`, else the tools folder the scripts install into.
pub fn secantus_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("SECANTUSD_BIN") {
        return path.into();
    }
    let tools = std::env::var_os("COGLEX_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir);
            home.join(".cache/coglex/tools")
        });
    tools.join("secantus/bin/secantusd-rs")
}

/// One running `secantusd-rs`.
pub struct MongoServer {
    uri: String,
    child: Child,
    stdin: Option<ChildStdin>,
    _data: tempfile::TempDir,
}

impl MongoServer {
    /// Starts a server on a free port and waits until it accepts connections.
    pub fn start() -> Self {
        let binary = secantus_binary();
        assert!(
            binary.exists(),
            "{} is missing: run `scripts/test.sh` once (it installs SecantusDB), or set MONGODB_URI",
            binary.display()
        );
        let data = tempfile::Builder::new()
            .prefix("coglex-secantus-")
            .tempdir()
            .expect("temp dir");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("secantus-watchdog")
            .arg(&binary)
            .args([
                "--port",
                "0",
                "--cache-size",
                "256M",
                "--log-file-max",
                "16MB",
                "--log-level",
                "WARNING",
            ])
            .arg("--storage-path")
            .arg(data.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start secantusd-rs");
        let stdin = child.stdin.take();
        let address = wait_for_address(&mut child);
        Self {
            uri: format!("mongodb://{address}/"),
            child,
            stdin,
            _data: data,
        }
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// Stops the server now (a database outage, for tests of it).
    pub fn stop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for MongoServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the server's "listening on HOST:PORT" line, then keeps draining its output.
fn wait_for_address(child: &mut Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.split("listening on ").nth(1) {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(address.trim().to_owned());
                }
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("secantusd-rs did not report its address within 60 s")
}

/// The database server shared by this test binary: `MONGODB_URI` if set, else one
/// SecantusDB started on first use.
pub fn shared_uri() -> &'static str {
    static SHARED: OnceLock<String> = OnceLock::new();
    SHARED.get_or_init(|| match std::env::var("MONGODB_URI") {
        Ok(uri) if !uri.is_empty() => uri,
        _ => {
            // Leaked on purpose: the server lives as long as the test binary, and the
            // watchdog stops it when the binary exits.
            let server = Box::leak(Box::new(MongoServer::start()));
            server.uri().to_owned()
        }
    })
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub uri: String,
}

impl TestDb {
    pub fn new() -> Self {
        Self {
            name: format!("test_{}", uuid::Uuid::new_v4().simple()),
            uri: shared_uri().to_owned(),
        }
    }

    /// A driver handle on this database, for arranging and checking data beside the API.
    pub async fn handle(&self) -> Database {
        Client::with_uri_str(&self.uri)
            .await
            .expect("valid test URI")
            .database(&self.name)
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (uri, name) = (self.uri.clone(), self.name.clone());
        // Drop may run inside an async test, which cannot block on its own runtime.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let client = Client::with_uri_str(&uri).await.ok()?;
                client.database(&name).drop().await.ok()
            })
        })
        .join();
    }
}
