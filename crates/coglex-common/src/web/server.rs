//! Assembling and running a service: the one place that knows the middleware order.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use mongodb::bson::Document;
use mongodb::{Collection, Database};

use super::background::{Background, DRAIN_LIMIT};
use super::routes::Routes;
use super::{api_key, context, extract, health};
use crate::config::CoreSettings;
use crate::http2;
use crate::mongo;
use crate::process::Serve;
use crate::secret::KeySet;
use crate::session::SessionStore;
use crate::token::TokenKeys;

/// What every service holds: settings, the database, token keys, session checks, API keys.
/// Cheap to clone; registered as `web::Data<Core>` in every app.
#[derive(Clone)]
pub struct Core {
    pub settings: Arc<CoreSettings>,
    pub db: Database,
    pub tokens: Arc<TokenKeys>,
    pub sessions: Arc<SessionStore>,
    /// Work requests start that must outlive them, waited for at shutdown.
    pub background: Background,
    pub(crate) keys: Arc<KeySet>,
    pub(crate) admin_keys: Arc<KeySet>,
}

impl Core {
    /// Builds the shared parts from validated settings. Does not wait for the database.
    pub async fn connect(settings: CoreSettings, app_name: &str) -> anyhow::Result<Self> {
        let db = mongo::connect(&settings.mongo, app_name).await?;
        Ok(Self {
            tokens: Arc::new(TokenKeys::new(&settings.tokens)),
            sessions: Arc::new(SessionStore::new(&db, &settings.sessions)),
            keys: Arc::new(settings.keys.all_keys()),
            admin_keys: Arc::new(settings.keys.admin_keys()),
            background: Background::new(),
            db,
            settings: Arc::new(settings),
        })
    }

    /// The users collection (`MONGODB_AUTH_COLLECTION`).
    pub fn users(&self) -> Collection<Document> {
        self.db
            .collection(&self.settings.mongo.mongodb_auth_collection)
    }
}

/// The name a service reports in its health answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServiceName(pub &'static str);

/// What a service adds to the common app.
pub struct ServiceDef<S> {
    /// Routing name: the service answers under `/service/<name>/v1`.
    pub name: &'static str,
    /// The service's own state, registered as `web::Data<S>`.
    pub state: S,
    /// Registers the service's routes, each with its OpenAPI description.
    pub routes: fn(&mut Routes),
}

impl<S> ServiceDef<S> {
    pub fn new(name: &'static str, state: S, routes: fn(&mut Routes)) -> Self {
        Self {
            name,
            state,
            routes,
        }
    }

    /// Every route of the service (probes included) with its description.
    pub fn all_routes(&self) -> Routes {
        let mut routes = Routes::default();
        health::routes(&mut routes);
        (self.routes)(&mut routes);
        routes
    }
}

/// The service's OpenAPI document, served at `/openapi.json` for the gateway to merge.
struct OpenApiDocument(Vec<u8>);

async fn openapi_document(doc: web::Data<OpenApiDocument>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

/// A bound, not yet running, service.
pub struct Application {
    port: u16,
    server: Server,
    background: Background,
}

impl Application {
    /// Binds `SERVER_HOST:SERVER_PORT` (or `default_port`) and assembles the app.
    pub fn bind<S: Send + Sync + 'static>(
        core: Core,
        def: ServiceDef<S>,
        default_port: u16,
    ) -> std::io::Result<Self> {
        let server_settings = &core.settings.server;
        let port = server_settings.server_port.unwrap_or(default_port);
        let listener = TcpListener::bind((server_settings.server_host.as_str(), port))?;
        Self::listen(core, def, listener)
    }

    /// Assembles the app on an already bound listener.
    pub fn listen<S: Send + Sync + 'static>(
        core: Core,
        def: ServiceDef<S>,
        listener: TcpListener,
    ) -> std::io::Result<Self> {
        let port = listener.local_addr()?.port();
        let settings = Arc::clone(&core.settings);
        let background = core.background.clone();
        let core = web::Data::new(core);
        let routes = Arc::new(def.all_routes());
        let state = web::Data::new(def.state);
        let name = web::Data::new(ServiceName(def.name));
        let prefix = format!("/service/{}/v1", def.name);
        let document = web::Data::new(OpenApiDocument(
            serde_json::to_vec(&routes.openapi(def.name, &prefix)).expect("documents serialise"),
        ));
        let max_json_bytes = settings.server.max_json_bytes;

        let mut server = HttpServer::new(move || {
            let (public, protected) = (Arc::clone(&routes), Arc::clone(&routes));
            App::new()
                .app_data(core.clone())
                .app_data(state.clone())
                .app_data(name.clone())
                .app_data(document.clone())
                .configure(|cfg| extract::configure(cfg, max_json_bytes))
                // Probes and the document are unauthenticated so orchestrators and the gateway
                // can read them; the gateway does not route these root paths.
                .configure(health::probes)
                .route("/openapi.json", web::get().to(openapi_document))
                .service(
                    web::scope(&prefix)
                        .configure(move |cfg| public.mount(cfg, true))
                        .service(
                            web::scope("")
                                .wrap(from_fn(api_key::require_api_key))
                                .configure(move |cfg| protected.mount(cfg, false)),
                        ),
                )
                // Outermost, so the request id and span cover every layer and every error.
                .wrap(from_fn(context::request_context))
        })
        // HTTP/1.1, and HTTP/2 with prior knowledge: the gateway multiplexes its clients'
        // requests over a few HTTP/2 connections per service.
        .h2_initial_window_size(http2::STREAM_WINDOW)
        .h2_initial_connection_window_size(http2::CONNECTION_WINDOW)
        // actix leaves Nagle on by default: a response written in several pieces (download
        // chunks, streamed lists, SSE events) would hold its last small segment until the
        // gateway's delayed ACK, up to 40 ms per response. Must precede `listen_*`.
        .tcp_nodelay(true)
        .listen_auto_h2c(listener)?
        .shutdown_timeout(settings.server.shutdown_timeout_secs);
        if settings.server.server_workers > 0 {
            server = server.workers(settings.server.server_workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            background,
        })
    }

    /// A handle to stop the server gracefully (tests, embedding).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }
}

/// Runs until SIGINT/SIGTERM, then drains in-flight requests for `SHUTDOWN_TIMEOUT_SECS` and
/// the background work they started for up to [`DRAIN_LIMIT`] more.
impl Serve for Application {
    fn port(&self) -> u16 {
        self.port
    }

    async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await?;
        if !self.background.drain(DRAIN_LIMIT).await {
            tracing::warn!("stopped with background work unfinished");
        }
        Ok(())
    }
}
