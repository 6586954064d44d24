use coglex_common::config::ConfigSource;
use gateway::Gateway;
use test_support::upstream::Upstream;

pub use test_support::{owned_pairs, ADMIN_API_KEY, API_KEY};

pub struct TestGateway {
    pub address: String,
    pub http: reqwest::Client,
    _running: gateway::Running,
}

impl TestGateway {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).header("X-API-Key", API_KEY)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path)).header("X-API-Key", API_KEY)
    }

    /// Stops the gateway as SIGTERM would; returns its address.
    pub fn stop(self) -> String {
        self.address
    }

    pub fn host_port(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    /// The Prometheus page, read with the admin key.
    pub async fn metrics(&self) -> String {
        let page = self
            .http
            .get(self.url("/metrics"))
            .header("X-API-Key", ADMIN_API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }
}

/// What arrives on a raw socket until a JSON response's body has come (or 5 s of silence).
pub async fn read_json_answer(reader: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    use tokio::io::AsyncReadExt;
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&response).contains('}') {
        match tokio::time::timeout(std::time::Duration::from_secs(5), reader.read(&mut buffer))
            .await
        {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => response.extend_from_slice(&buffer[..n]),
            Ok(Err(error)) => panic!("{error}"),
        }
    }
    String::from_utf8_lossy(&response).into_owned()
}

/// Settings for a gateway whose five upstreams are all `upstream`.
pub fn settings_for(upstream: &str) -> Vec<(String, String)> {
    let mut pairs = test_support::gateway_settings();
    pairs.extend(
        ["AUTH", "STORAGE", "ARCHIVE", "PAYMENT", "GENERATION"]
            .iter()
            .map(|name| (format!("{name}_SVC_URL"), upstream.to_owned())),
    );
    pairs
}

pub async fn spawn_gateway(pairs: Vec<(String, String)>) -> TestGateway {
    let running = Gateway::build(ConfigSource::from_pairs(pairs))
        .await
        .expect("the gateway builds")
        .spawn();
    TestGateway {
        address: running.address.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _running: running,
    }
}

/// A gateway in front of one test upstream, with extra settings.
pub async fn gateway_with(extra: &[(&str, &str)]) -> (TestGateway, Upstream) {
    let upstream = Upstream::start().await;
    let mut pairs = settings_for(&upstream.address);
    pairs.extend(owned_pairs(extra));
    (spawn_gateway(pairs).await, upstream)
}

/// 8 KiB posted in chunks, with no declared length, to storage.
pub async fn post_streamed_8_kib(gateway: &TestGateway) -> reqwest::Response {
    let chunks =
        futures_util::stream::iter((0..16).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 512])));
    gateway
        .post("/service/storage/v1/count-me")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap()
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}
