//! Socket options every service applies to the connections it accepts.

use std::net::SocketAddr;
use std::os::fd::{BorrowedFd, RawFd};

use socket2::SockRef;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

#[tokio::test]
async fn accepted_connections_have_nagle_off() {
    let app = spawn_app(build).await;
    let mut client = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    client
        .write_all(b"GET /health HTTP/1.1\r\nhost: probe\r\n\r\n")
        .await
        .unwrap();
    // An answer means the server has accepted and configured its end.
    let mut head = [0u8; 12];
    client.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    let server_end = (client.peer_addr().unwrap(), client.local_addr().unwrap());
    let nodelay = accepted_socket_nodelay(server_end).expect("the server's end of the connection");
    assert!(nodelay, "TCP_NODELAY is off on the accepted connection");
}

/// TCP_NODELAY of this process's socket bound to `local` and connected to `peer`: the server
/// runs in-process, so its end of the connection is one of our own descriptors.
fn accepted_socket_nodelay((local, peer): (SocketAddr, SocketAddr)) -> Option<bool> {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<RawFd>().ok())
        .find_map(|fd| {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()?;
            if !target.to_string_lossy().starts_with("socket:") {
                return None;
            }
            // SAFETY: `fd` is one of this process's open sockets, only read through during this
            // call; if another thread closes it meanwhile the calls fail with EBADF, no more.
            #[allow(unsafe_code)]
            let fd = unsafe { BorrowedFd::borrow_raw(fd) };
            let socket = SockRef::from(&fd);
            let addr = |a: std::io::Result<socket2::SockAddr>| a.ok()?.as_socket();
            (addr(socket.local_addr()) == Some(local) && addr(socket.peer_addr()) == Some(peer))
                .then(|| socket.tcp_nodelay().unwrap())
        })
}
