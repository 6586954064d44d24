//! A TCP proxy in front of the test database that can be frozen: it then passes no more bytes
//! either way but closes nothing, as a hung server or a path that silently drops packets
//! would. Services must give up on such a connection by themselves. It can also hold only the
//! server's replies (commands then still run, but their outcome arrives late), or only the
//! commands that name something (a collection, `getMore`), while everything else flows; or
//! cut the connection that carries such a command, which then never reaches the server.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct FreezableProxy {
    /// `mongodb://<address>/?directConnection=true`, for `MONGODB_URI`.
    pub uri: String,
    mode: watch::Sender<Mode>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Open,
    HoldReplies,
    /// Holds back bytes sent to the server that contain the marker.
    HoldCommandsWith(&'static [u8]),
    /// Closes the connection instead of sending bytes that contain the marker.
    CutCommandsWith(&'static [u8]),
    Frozen,
}

/// What becomes of bytes read from one side.
#[derive(PartialEq)]
enum Verdict {
    Pass,
    Hold,
    Cut,
}

/// Which way bytes go through a connection.
#[derive(Clone, Copy)]
enum Way {
    ToServer,
    ToClient,
}

impl Mode {
    fn verdict(self, way: Way, bytes: &[u8]) -> Verdict {
        let holds = |marker: &[u8]| bytes.windows(marker.len()).any(|w| w == marker);
        match (self, way) {
            (Mode::HoldCommandsWith(marker), Way::ToServer) if holds(marker) => Verdict::Hold,
            (Mode::CutCommandsWith(marker), Way::ToServer) if holds(marker) => Verdict::Cut,
            (Mode::HoldReplies, Way::ToClient) | (Mode::Frozen, _) => Verdict::Hold,
            _ => Verdict::Pass,
        }
    }
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
        let (mode, watching) = watch::channel(Mode::Open);
        tokio::spawn(accept(listener, target, watching));
        Self {
            uri: format!("mongodb://{address}/?directConnection=true"),
            mode,
        }
    }

    /// Stops passing bytes on every connection, open or new.
    pub fn freeze(&self) {
        self.mode.send_replace(Mode::Frozen);
    }

    /// Passes commands to the server but holds its replies back.
    pub fn hold_replies(&self) {
        self.mode.send_replace(Mode::HoldReplies);
    }

    /// Holds back commands whose bytes contain `marker` (a collection's name, say, or
    /// `getMore`); everything else passes. A small command arrives in one read, so it is seen
    /// whole.
    pub fn hold_commands_with(&self, marker: &'static [u8]) {
        self.mode.send_replace(Mode::HoldCommandsWith(marker));
    }

    /// Closes any connection as it carries a command whose bytes contain `marker`, so that
    /// command fails as on a broken network without reaching the server; the rest passes.
    pub fn cut_commands_with(&self, marker: &'static [u8]) {
        self.mode.send_replace(Mode::CutCommandsWith(marker));
    }

    /// Passes everything again, the held bytes first.
    pub fn open(&self) {
        self.mode.send_replace(Mode::Open);
    }
}

async fn accept(listener: TcpListener, target: String, mode: watch::Receiver<Mode>) {
    while let Ok((client, _)) = listener.accept().await {
        let Ok(server) = TcpStream::connect(&target).await else {
            continue;
        };
        let (client_read, client_write) = client.into_split();
        let (server_read, server_write) = server.into_split();
        tokio::spawn(pump(client_read, server_write, Way::ToServer, mode.clone()));
        tokio::spawn(pump(server_read, client_write, Way::ToClient, mode.clone()));
    }
}

async fn pump(
    mut from: impl AsyncReadExt + Unpin,
    mut to: impl AsyncWriteExt + Unpin,
    way: Way,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        let bytes = &buffer[..n];
        if n == 0 {
            return;
        }
        let verdict = match mode
            .wait_for(|m| m.verdict(way, bytes) != Verdict::Hold)
            .await
        {
            Ok(m) => m.verdict(way, bytes),
            Err(_) => return,
        };
        // Returning drops this direction's write half: the other side sees the end, and
        // closes the connection in turn.
        if verdict == Verdict::Cut {
            return;
        }
        if to.write_all(bytes).await.is_err() {
            return;
        }
    }
}
