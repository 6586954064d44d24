//! The gateway in front of the five real services.

use test_support::spawn_app;

use crate::helpers::*;

#[tokio::test]
async fn health_of_all_five_services_answers_through_the_gateway() {
    let auth = spawn_app(auth_svc::build).await;
    let storage = spawn_app(storage_svc::build).await;
    let archive = spawn_app(archive_svc::build).await;
    let payment = spawn_app(payment_svc::build).await;
    let generation = spawn_app(generation_svc::build).await;
    let mut pairs = settings_for("http://127.0.0.1:1");
    for (name, app) in [
        ("AUTH", &auth),
        ("STORAGE", &storage),
        ("ARCHIVE", &archive),
        ("PAYMENT", &payment),
        ("GENERATION", &generation),
    ] {
        pairs.push((format!("{name}_SVC_URL"), app.address.clone()));
    }
    let gateway = spawn_gateway(pairs).await;

    for service in ["auth", "storage", "archive", "payment", "generation"] {
        let response = gateway
            .get(&format!("/service/{service}/v1/health"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{service}");
        assert_eq!(json(response).await["service"], service);
        let without_key = gateway
            .http
            .get(gateway.url(&format!("/service/{service}/v1/health")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            without_key.status(),
            401,
            "through the gateway, health needs the key too"
        );
    }
    let ready = gateway
        .http
        .get(gateway.url("/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
}
