use std::time::{Duration, Instant};

use coglex_common::config::ConfigSource;
use test_support::MongoServer;

use crate::helpers::*;

#[tokio::test]
async fn a_stopped_database_gives_503_within_the_configured_timeout() {
    let mut server = MongoServer::start();
    let uri = server.uri().to_owned();
    let app = spawn_app_with(
        |source: ConfigSource| build(source),
        &[
            ("MONGODB_URI", uri.as_str()),
            ("MONGODB_SERVER_SELECTION_TIMEOUT_MS", "1000"),
            ("MONGODB_CONNECT_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    assert_eq!(
        app.get("/service/probe/v1/count")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    server.stop();

    for path in ["/service/probe/v1/count", "/ready"] {
        let started = Instant::now();
        let response = app.get(path).send().await.unwrap();
        let elapsed = started.elapsed();
        assert_eq!(response.status(), 503, "{path}");
        assert!(elapsed < Duration::from_secs(3), "{path} took {elapsed:?}");
        assert!(response.headers().contains_key("retry-after"));
        let body = json(response).await;
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert_eq!(
            body["error"]["message"],
            "a dependency is unavailable; retry later"
        );
    }
    // The service itself stays alive.
    assert_eq!(app.get("/health").send().await.unwrap().status(), 200);
}
