//! A storage-svc on its own database, two signed-in users, and one method per endpoint.

use mongodb::bson::{doc, Document};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use test_support::{SignedIn, TestApp, ADMIN_API_KEY, API_KEY};

pub use futures_util::TryStreamExt;

/// `products` shared, `catalog` read-only, everything else private (the default).
pub const POLICIES: &str = "products=shared,catalog=read-only";

pub const BASE: &str = "/service/storage/v1";

/// A running service with two users who never share a `private` collection.
pub struct Storage {
    pub app: TestApp,
    pub ada: SignedIn,
    pub bob: SignedIn,
}

pub async fn spawn_storage() -> Storage {
    spawn_storage_with(&[]).await
}

pub async fn spawn_storage_with(settings: &[(&str, &str)]) -> Storage {
    let mut all = vec![("STORAGE_COLLECTION_POLICIES", POLICIES)];
    all.extend_from_slice(settings);
    let app = test_support::spawn_app_with(storage_svc::build, &all).await;
    let ada = test_support::sign_in(&app, "ada@example.com").await;
    let bob = test_support::sign_in(&app, "bob@example.com").await;
    Storage { app, ada, bob }
}

impl Storage {
    /// Requests as a signed-in user (client API key + session token).
    pub fn user(&self, user: &SignedIn) -> As<'_> {
        As {
            app: &self.app,
            key: API_KEY,
            token: Some(user.token.clone()),
        }
    }

    pub fn ada(&self) -> As<'_> {
        self.user(&self.ada)
    }

    pub fn bob(&self) -> As<'_> {
        self.user(&self.bob)
    }

    /// Requests as the service role (admin API key, no user token).
    pub fn service(&self) -> As<'_> {
        As {
            app: &self.app,
            key: ADMIN_API_KEY,
            token: None,
        }
    }

    /// Requests with the client API key and no token.
    pub fn anonymous(&self) -> As<'_> {
        As {
            app: &self.app,
            key: API_KEY,
            token: None,
        }
    }

    /// Every document of a collection as stored, by `_id`, read beside the API.
    pub async fn stored(&self, collection: &str) -> Vec<Document> {
        self.app
            .database
            .collection::<Document>(collection)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .expect("find")
            .try_collect()
            .await
            .expect("read documents")
    }

    /// Writes documents beside the API (arranging data).
    pub async fn seed(&self, collection: &str, documents: Vec<Document>) {
        self.app
            .database
            .collection::<Document>(collection)
            .insert_many(documents)
            .await
            .expect("seed documents");
    }

    pub async fn collection_names(&self) -> Vec<String> {
        self.app
            .database
            .list_collection_names()
            .await
            .expect("list collections")
    }
}

/// One caller's view of the API.
pub struct As<'a> {
    app: &'a TestApp,
    key: &'static str,
    token: Option<String>,
}

impl As<'_> {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let request = self
            .app
            .http
            .request(method, self.app.url(&format!("{BASE}{path}")))
            .header("X-API-Key", self.key);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET /{collection}` with the given query parameters (values as JSON text).
    pub async fn find(&self, collection: &str, params: &[(&str, &str)]) -> Response {
        send(
            self.request(Method::GET, &format!("/{collection}"))
                .query(params),
        )
        .await
    }

    pub async fn find_one(&self, collection: &str, id: &str) -> Response {
        send(self.request(Method::GET, &format!("/{collection}/{id}"))).await
    }

    pub async fn insert(&self, collection: &str, documents: Value) -> Response {
        let body = json!({ "documents": documents });
        send(
            self.request(Method::POST, &format!("/{collection}"))
                .json(&body),
        )
        .await
    }

    pub async fn update_one(&self, collection: &str, id: &str, body: Value) -> Response {
        send(
            self.request(Method::PATCH, &format!("/{collection}/{id}"))
                .json(&body),
        )
        .await
    }

    pub async fn update_many(&self, collection: &str, body: Value) -> Response {
        send(
            self.request(Method::PATCH, &format!("/{collection}"))
                .json(&body),
        )
        .await
    }

    pub async fn delete_one(&self, collection: &str, id: &str) -> Response {
        send(self.request(Method::DELETE, &format!("/{collection}/{id}"))).await
    }

    pub async fn delete_many(&self, collection: &str, body: Value) -> Response {
        send(
            self.request(Method::DELETE, &format!("/{collection}"))
                .json(&body),
        )
        .await
    }

    pub async fn aggregate(&self, collection: &str, pipeline: Value) -> Response {
        let body = json!({ "pipeline": pipeline });
        send(
            self.request(Method::POST, &format!("/{collection}/aggregate"))
                .json(&body),
        )
        .await
    }

    pub async fn list_indexes(&self, collection: &str) -> Response {
        send(self.request(Method::GET, &format!("/_indexes/{collection}"))).await
    }

    pub async fn create_index(&self, collection: &str, body: Value) -> Response {
        send(
            self.request(Method::POST, &format!("/_indexes/{collection}"))
                .json(&body),
        )
        .await
    }

    /// Inserts documents and returns their ids, asserting success.
    pub async fn insert_ok(&self, collection: &str, documents: Value) -> Vec<String> {
        let response = self.insert(collection, documents).await;
        assert_eq!(response.status(), 201, "insert failed");
        let body = body(response).await;
        body["inserted_ids"]
            .as_array()
            .expect("inserted_ids")
            .iter()
            .map(|id| id.as_str().expect("an id string").to_owned())
            .collect()
    }

    /// Finds with the given parameters and returns the array, asserting success.
    pub async fn find_ok(&self, collection: &str, params: &[(&str, &str)]) -> Vec<Value> {
        let response = self.find(collection, params).await;
        assert_eq!(response.status(), 200, "find failed");
        body(response).await.as_array().expect("an array").clone()
    }
}

async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("the request is sent")
}

pub async fn body(response: Response) -> Value {
    response.json().await.expect("a JSON body")
}

/// Status and error code of an error response.
pub async fn error(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body = body(response).await;
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or("<none>")
        .to_owned();
    (status, code)
}

/// The original README's two products.
pub fn readme_products() -> Value {
    json!([
        {"name": "Product 1", "price": 29.99, "category": "electronics"},
        {"name": "Product 2", "price": 49.99, "category": "books"}
    ])
}
