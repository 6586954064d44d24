use coglex_common::config::ConfigSource;
use gateway::Gateway;
use test_support::upstream::Upstream;

pub use test_support::{ADMIN_API_KEY, API_KEY};

pub struct TestGateway {
    pub address: String,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
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

    pub fn host_port(&self) -> &str {
        self.address.trim_start_matches("http://")
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Settings for a gateway whose five upstreams are all `upstream`.
pub fn settings_for(upstream: &str) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = ["AUTH", "STORAGE", "ARCHIVE", "PAYMENT", "GENERATION"]
        .iter()
        .map(|name| (format!("{name}_SVC_URL"), upstream.to_owned()))
        .collect();
    pairs.extend(
        [
            ("SERVER_PORT", "0"),
            ("API_KEYS", API_KEY),
            ("ADMIN_API_KEYS", ADMIN_API_KEY),
            ("RATE_LIMIT_RPS", "0"),
            ("SHUTDOWN_TIMEOUT_SECS", "1"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    pairs
}

pub async fn spawn_gateway(pairs: Vec<(String, String)>) -> TestGateway {
    let gateway = Gateway::build(ConfigSource::from_pairs(pairs))
        .await
        .expect("the gateway builds");
    let address = format!("http://{}", gateway.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(gateway.run_until(async move {
        let _ = stopped.await;
    }));
    TestGateway {
        address,
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        stop: Some(stop),
    }
}

/// A gateway in front of one test upstream, with extra settings.
pub async fn gateway_with(extra: &[(&str, &str)]) -> (TestGateway, Upstream) {
    let upstream = Upstream::start().await;
    let mut pairs = settings_for(&upstream.address);
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    (spawn_gateway(pairs).await, upstream)
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.expect("a JSON body")
}
