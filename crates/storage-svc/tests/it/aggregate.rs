use serde_json::{json, Value};

use crate::helpers::*;

fn readme_pipeline() -> Value {
    json!([
        {"$match": {"status": "active", "created_date": {"$gte": "2024-01-01T00:00:00Z"}}},
        {"$group": {
            "_id": "$category",
            "count": {"$sum": 1},
            "total_value": {"$sum": "$price"},
            "avg_price": {"$avg": "$price"}
        }},
        {"$sort": {"count": -1}},
        {"$limit": 10}
    ])
}

#[tokio::test]
async fn the_readme_aggregation_groups_sorts_and_limits() {
    let storage = spawn_storage().await;
    storage
        .ada()
        .insert_ok(
            "products",
            json!([
                {"category": "electronics", "price": 40, "status": "active", "created_date": "2024-02-01T00:00:00Z"},
                {"category": "electronics", "price": 60, "status": "active", "created_date": "2024-03-01T00:00:00Z"},
                {"category": "books", "price": 10, "status": "active", "created_date": "2024-03-01T00:00:00Z"},
                {"category": "books", "price": 99, "status": "inactive", "created_date": "2024-03-01T00:00:00Z"},
                {"category": "toys", "price": 5, "status": "active", "created_date": "2023-03-01T00:00:00Z"}
            ]),
        )
        .await;

    let response = storage.ada().aggregate("products", readme_pipeline()).await;

    assert_eq!(response.status(), 200);
    assert_eq!(
        body(response).await,
        json!([
            {"_id": "electronics", "count": 2, "total_value": 100, "avg_price": 50.0},
            {"_id": "books", "count": 1, "total_value": 10, "avg_price": 10.0}
        ])
    );
}

#[tokio::test]
async fn writing_and_introspection_stages_are_refused_and_nothing_is_written() {
    let storage = spawn_storage().await;
    storage.ada().insert_ok("products", readme_products()).await;
    let stages = [
        json!({"$out": "stolen"}),
        json!({"$merge": {"into": "stolen"}}),
        json!({"$currentOp": {}}),
        json!({"$collStats": {"count": {}}}),
        json!({"$indexStats": {}}),
        json!({"$listSessions": {}}),
        json!({"$changeStream": {}}),
        json!({"$documents": [{"x": 1}]}),
    ];
    for stage in stages {
        let response = storage
            .ada()
            .aggregate("products", json!([stage.clone()]))
            .await;
        assert_eq!(
            error(response).await,
            (400, "bad_request".into()),
            "{stage}"
        );
    }
    let mut names = storage.collection_names().await;
    names.sort();
    assert_eq!(names, ["_SESSIONS", "_USERS", "products"]);
}

#[tokio::test]
async fn code_running_expressions_are_refused() {
    let storage = spawn_storage().await;
    let pipelines = [
        json!([{"$match": {"$where": "sleep(100) || true"}}]),
        json!([{"$match": {"$expr": {"$function": {"body": "function() {return true}", "args": [], "lang": "js"}}}}]),
        json!([{"$group": {"_id": null, "x": {"$accumulator": {"init": "function() {}"}}}}]),
        json!([{"$project": {"x": {"$function": {"body": "", "args": [], "lang": "js"}}}}]),
        json!([{"$group": {"_id": null, "r": {"$_internalJsReduce": {"data": {"k": 1, "v": 1}, "eval": "function(k, v) {for(;;){}}"}}}}]),
        // Not code, but about the server: the database account's roles.
        json!([{"$project": {"roles": "$$USER_ROLES"}}]),
    ];
    for pipeline in pipelines {
        let response = storage.ada().aggregate("products", pipeline.clone()).await;
        assert_eq!(error(response).await.0, 400, "{pipeline}");
    }
}

#[tokio::test]
async fn lookups_into_reserved_collections_are_refused() {
    let storage = spawn_storage().await;
    for from in ["_USERS", "_SESSIONS", "system.users"] {
        let lookup = json!([{"$lookup": {"from": from, "localField": "x", "foreignField": "_id", "as": "leak"}}]);
        let response = storage.ada().aggregate("products", lookup).await;
        assert_eq!(error(response).await, (403, "forbidden".into()), "{from}");
        let union = json!([{"$unionWith": from}]);
        let response = storage.ada().aggregate("products", union).await;
        assert_eq!(error(response).await, (403, "forbidden".into()), "{from}");
    }
}

#[tokio::test]
async fn a_pipeline_longer_than_allowed_is_refused() {
    let storage = spawn_storage_with(&[("STORAGE_MAX_PIPELINE_STAGES", "3")]).await;
    let pipeline = json!([{"$skip": 0}, {"$skip": 0}, {"$skip": 0}, {"$skip": 0}]);

    let response = storage.ada().aggregate("products", pipeline).await;

    assert_eq!(error(response).await.0, 400);
}

#[tokio::test]
async fn aggregation_output_is_capped_at_the_maximum_limit() {
    let storage =
        spawn_storage_with(&[("STORAGE_MAX_LIMIT", "5"), ("STORAGE_DEFAULT_LIMIT", "5")]).await;
    storage
        .seed(
            "products",
            (0..8).map(|i| mongodb::bson::doc! {"n": i}).collect(),
        )
        .await;

    let response = storage.ada().aggregate("products", json!([])).await;

    assert_eq!(body(response).await.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn a_pipeline_that_is_not_an_array_is_400() {
    let storage = spawn_storage().await;

    let response = storage
        .ada()
        .aggregate("products", json!({"$match": {}}))
        .await;

    assert_eq!(error(response).await.0, 400);
}
