//! The archive-svc binary; everything it serves is assembled in the library.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    coglex_common::web::launch("archive-svc", archive_svc::build).await
}
