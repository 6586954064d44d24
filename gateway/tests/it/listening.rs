//! The gateway's event loops share their port with each other (`SO_REUSEPORT`), never with
//! another process: a port already in use is a start-up error, as with a plain bind.

use coglex_common::config::ConfigSource;
use gateway::Gateway;

use crate::helpers::*;

#[tokio::test]
async fn a_port_another_gateway_holds_is_refused_at_start() {
    // Bound the way a gateway binds, so the kernel alone would let a second one share it.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let held = socket.listen(16).unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let mut pairs = settings_for("http://127.0.0.1:9");
    pairs.push(("SERVER_PORT".to_owned(), port));
    let error = Gateway::build(ConfigSource::from_pairs(pairs))
        .await
        .err()
        .expect("the gateway must not start on a port in use");
    let io = error
        .downcast_ref::<std::io::Error>()
        .expect("an I/O error");
    assert_eq!(io.kind(), std::io::ErrorKind::AddrInUse);
}
