//! Container health probe for the distroless images, which have no shell and no curl.
//!
//! `healthcheck [PATH]` sends `GET PATH` (default `/health`) to `127.0.0.1:$SERVER_PORT` and
//! exits 0 on a 2xx answer, 1 otherwise. Standard library only: `deploy/Dockerfile` compiles it
//! with plain `rustc`; it is not a workspace member. Kubernetes uses its own HTTP probes instead.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/health".to_owned());
    let Some(port) = std::env::var("SERVER_PORT")
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
    else {
        eprintln!("healthcheck: SERVER_PORT is not set to a port number");
        return ExitCode::from(2);
    };
    match probe(port, &path) {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("healthcheck: GET {path} answered {status}");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("healthcheck: GET {path} on port {port} failed: {err}");
            ExitCode::FAILURE
        }
    }
}

/// The status code of `GET path` on the loopback interface.
fn probe(port: u16, path: &str) -> std::io::Result<u16> {
    let mut stream =
        TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: coglex-healthcheck\r\nConnection: close\r\n\r\n"
    )?;
    // Only the status line matters: "HTTP/1.1 200 OK".
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while head.len() < 12 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let invalid = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    if !line.starts_with("HTTP/1.") {
        return Err(invalid());
    }
    line.get(9..12)
        .and_then(|code| code.parse().ok())
        .ok_or_else(invalid)
}
