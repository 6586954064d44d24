//! The generation-svc binary; everything it serves is assembled in the library.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    coglex_common::web::launch("generation-svc", generation_svc::build).await
}
