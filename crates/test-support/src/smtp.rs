//! A real SMTP receiver for tests (RFC 5321): it speaks the protocol a mail client uses
//! (greeting, `EHLO`/`HELO`, `MAIL FROM`, `RCPT TO`, `DATA` with dot-unstuffing, `RSET`,
//! `NOOP`, `QUIT`) on a free port and keeps every message it accepts, so a test can read the
//! mail a service really sent. Plain text only: services point at it with TLS off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// Longest line accepted, in bytes (RFC 5321 §4.5.3.1.6 says 1000 for text lines).
const MAX_LINE_BYTES: usize = 4096;
/// Largest message accepted, in bytes.
const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// One message as it was delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The envelope sender (`MAIL FROM`), without angle brackets.
    pub from: String,
    /// The envelope recipients (`RCPT TO`), without angle brackets.
    pub to: Vec<String>,
    /// The message as sent after `DATA`: headers, a blank line, the body; dots unstuffed.
    pub data: String,
}

impl Mail {
    /// The value of the first header named `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or_default();
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            let continuation = line.starts_with([' ', '\t']);
            if let Some(v) = value.as_mut() {
                if !continuation {
                    break;
                }
                v.push_str(line);
            } else if let Some((key, rest)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
        value
    }

    /// The body: everything after the first blank line.
    pub fn body(&self) -> &str {
        self.data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body)
    }
}

/// A running receiver; it stops when dropped.
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Inbox {
    mails: Mutex<Vec<Mail>>,
    arrived: Notify,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let port = listener.local_addr().expect("bound").port();
        let inbox = Arc::new(Inbox::default());
        let accepting = Arc::clone(&inbox);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let inbox = Arc::clone(&accepting);
                tokio::spawn(async move {
                    // A client that breaks the protocol just loses its connection.
                    let _ = serve(stream, &inbox).await;
                });
            }
        });
        Self {
            host: "127.0.0.1".into(),
            port,
            inbox,
            task,
        }
    }

    /// The settings that point a service at this server (plain SMTP, no authentication).
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("SMTP_HOST".into(), self.host.clone()),
            ("SMTP_PORT".into(), self.port.to_string()),
            ("SMTP_TLS".into(), "none".into()),
        ]
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        self.lock().clone()
    }

    /// The first message to `recipient`, waiting up to `timeout` for it to arrive.
    pub async fn wait_for(&self, recipient: &str, timeout: Duration) -> Option<Mail> {
        let find = || {
            self.lock()
                .iter()
                .find(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(recipient)))
                .cloned()
        };
        tokio::time::timeout(timeout, async {
            loop {
                let arrived = self.inbox.arrived.notified();
                if let Some(mail) = find() {
                    return mail;
                }
                arrived.await;
            }
        })
        .await
        .ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Mail>> {
        self.inbox
            .mails
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Envelope {
    from: Option<String>,
    to: Vec<String>,
}

async fn serve(stream: TcpStream, inbox: &Inbox) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write
        .write_all(b"220 localhost ESMTP test receiver\r\n")
        .await?;
    let mut envelope = Envelope::default();
    loop {
        let Some(line) = read_line(&mut lines).await? else {
            return Ok(());
        };
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 localhost\r\n",
            "MAIL" => match address_after(&line, "FROM:") {
                Some(from) => {
                    envelope = Envelope {
                        from: Some(from),
                        to: Vec::new(),
                    };
                    b"250 OK\r\n"
                }
                None => b"501 Syntax: MAIL FROM:<address>\r\n",
            },
            "RCPT" => match (address_after(&line, "TO:"), &envelope.from) {
                (Some(to), Some(_)) => {
                    envelope.to.push(to);
                    b"250 OK\r\n"
                }
                (None, _) => b"501 Syntax: RCPT TO:<address>\r\n",
                (_, None) => b"503 MAIL first\r\n",
            },
            "DATA" if envelope.to.is_empty() => b"503 RCPT first\r\n",
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let data = read_data(&mut lines).await?;
                let envelope = std::mem::take(&mut envelope);
                inbox
                    .mails
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(Mail {
                        from: envelope.from.unwrap_or_default(),
                        to: envelope.to,
                        data,
                    });
                inbox.arrived.notify_waiters();
                b"250 OK: queued\r\n"
            }
            "RSET" => {
                envelope = Envelope::default();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 Bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 Command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// One line without its CRLF; `None` at end of stream.
async fn read_line(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<String>> {
    let mut buf = Vec::new();
    let read = (&mut *lines)
        .take(MAX_LINE_BYTES as u64)
        .read_until(b'\n', &mut buf)
        .await?;
    if read == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(std::io::Error::other("line too long"));
    }
    let text = String::from_utf8_lossy(&buf);
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_owned()))
}

/// The message after `DATA`, up to the line holding a single dot (RFC 5321 §4.5.2).
async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<String> {
    let mut data = String::new();
    loop {
        let line = read_line(lines)
            .await?
            .ok_or_else(|| std::io::Error::other("connection closed during DATA"))?;
        if line == "." {
            return Ok(data);
        }
        let line = line.strip_prefix('.').unwrap_or(&line);
        if data.len() + line.len() > MAX_MESSAGE_BYTES {
            return Err(std::io::Error::other("message too large"));
        }
        data.push_str(line);
        data.push_str("\r\n");
    }
}

/// The address in `MAIL FROM:<a@b> SIZE=...` or `RCPT TO:<a@b>`.
fn address_after(line: &str, label: &str) -> Option<String> {
    let rest = line.get(5..)?.trim_start();
    if !rest.get(..label.len())?.eq_ignore_ascii_case(label) {
        return None;
    }
    let rest = rest[label.len()..].trim_start();
    let inner = rest.strip_prefix('<')?.split('>').next()?;
    Some(inner.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_addresses_are_read_without_brackets_or_parameters() {
        assert_eq!(
            address_after("MAIL FROM:<a@b.io> SIZE=100", "FROM:").as_deref(),
            Some("a@b.io")
        );
        assert_eq!(
            address_after("RCPT TO: <c@d.io>", "TO:").as_deref(),
            Some("c@d.io")
        );
        assert_eq!(address_after("RCPT FOO:<c@d.io>", "TO:"), None);
    }
}
