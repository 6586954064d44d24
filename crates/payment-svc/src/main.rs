//! The payment-svc binary; everything it serves is assembled in the library.

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    coglex_common::web::launch("payment-svc", payment_svc::build).await
}
