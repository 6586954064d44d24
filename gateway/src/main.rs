//! The gateway binary; everything it does is in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    gateway::launch().await
}
