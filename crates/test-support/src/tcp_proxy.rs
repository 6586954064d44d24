//! A TCP proxy in front of the test database that can be frozen: it then passes no more bytes
//! either way but closes nothing, as a hung server or a path that silently drops packets
//! would. Services must give up on such a connection by themselves.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FreezableProxy {
    /// `mongodb://<address>/?directConnection=true`, for `MONGODB_URI`.
    pub uri: String,
    frozen: watch::Sender<bool>,
}

impl FreezableProxy {
    /// A proxy to the database server of `uri` (a `mongodb://host:port/...` URI).
    pub async fn start(uri: &str) -> Self {
        let target = uri
            .strip_prefix("mongodb://")
            .and_then(|rest| rest.split(['/', '?']).next())
            .and_then(|host| host.rsplit('@').next())
            .expect("a mongodb://host:port URI")
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (frozen, watching) = watch::channel(false);
        tokio::spawn(accept(listener, target, watching));
        Self {
            uri: format!("mongodb://{address}/?directConnection=true"),
            frozen,
        }
    }

    /// Stops passing bytes on every connection, open or new.
    pub fn freeze(&self) {
        self.frozen.send_replace(true);
    }
}

async fn accept(listener: TcpListener, target: String, frozen: watch::Receiver<bool>) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(&target).await else {
            continue;
        };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::spawn(pump(client_read, server_write, frozen.clone()));
        tokio::spawn(pump(server_read, client_write, frozen.clone()));
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    mut frozen: watch::Receiver<bool>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if n == 0 || frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}
