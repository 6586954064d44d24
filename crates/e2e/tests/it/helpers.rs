//! What the end-to-end tests share: clients and the Python tools the suite installs.

use std::path::PathBuf;

pub use e2e::{Stack, ADMIN_API_KEY, API_KEY};

/// A client that follows no redirects (the tests check them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client builds")
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    let status = response.status();
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
}

/// A Python tool `scripts/test.sh` installs into its virtualenv and puts on `PATH`.
pub fn python_tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: run the suite with scripts/test.sh, which installs it \
             (or `pip install -r scripts/requirements-test.txt` into an active virtualenv)"
        )
    })
}
