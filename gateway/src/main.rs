//! The gateway binary; everything it does is in the library.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// The event loops run on their own threads (`server.rs`); this runtime only starts and stops them.
#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    gateway::launch().await
}
