//! What every test shares: a self-signed certificate, configurations, a collecting sink,
//! and a raw SMTP client that reads replies line by line and checks their form.

use camkey_smtp::{BoxFuture, Config, Envelope, Mail, Mailbox, Server, Sink, Verdict};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// How long a test waits for any one reply.
pub const REPLY_WAIT: Duration = Duration::from_secs(5);

/// The largest message of the test configuration.
pub const MAX_MESSAGE: usize = 64 * 1024;

struct Tls {
    server: Arc<rustls::ServerConfig>,
    client: Arc<rustls::ClientConfig>,
}

fn tls() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = key.cert.der().clone();
        let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], der)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Tls {
            server: Arc::new(server),
            client: Arc::new(client),
        }
    })
}

/// The configuration of most tests: small limits, generous timeouts, STARTTLS.
pub fn config() -> Config {
    let mut c = Config::new("mx.camkey.test");
    c.max_message_bytes = MAX_MESSAGE;
    c.max_recipients = 100;
    c.max_sessions = 64;
    // Every test client comes from 127.0.0.1 (smtp-source opens 8 sessions at once); the
    // per-address cap has tests of its own (`attack`).
    c.max_sessions_per_client = 64;
    c.max_errors = 20;
    c.command_timeout = Duration::from_secs(10);
    c.data_timeout = Duration::from_secs(10);
    c.tls = Some(tls().server.clone());
    c
}

/// Accepts everyone but `nobody@…` (550 5.1.1) and `later@…` (450 4.2.1); keeps
/// messages in a [`Mailbox`].
pub struct TestSink {
    pub mailbox: Mailbox,
    pub rcpt_calls: AtomicUsize,
}

impl Sink for TestSink {
    fn rcpt(&self, _: &Envelope, rcpt: &str) -> Verdict {
        self.rcpt_calls.fetch_add(1, Ordering::SeqCst);
        if rcpt.starts_with("nobody@") {
            Verdict::reject(550, "5.1.1", "no such mailbox")
        } else if rcpt.starts_with("later@") {
            Verdict::reject(450, "4.2.1", "mailbox busy")
        } else {
            Verdict::Accept
        }
    }

    fn deliver(&self, envelope: Envelope, message: Vec<u8>) -> BoxFuture<'_, Verdict> {
        self.mailbox.deliver(envelope, message)
    }
}

impl TestSink {
    /// Waits for `n` messages.
    pub async fn wait_for(&self, n: usize) -> Vec<Mail> {
        match self.mailbox.wait_for(n, REPLY_WAIT).await {
            Some(mails) => mails,
            None => panic!(
                "expected {n} messages, have {:?}",
                self.mailbox.mails().len()
            ),
        }
    }
}

/// A server with `config` on 127.0.0.1, port 0.
pub async fn start(config: Config) -> (Server, Arc<TestSink>) {
    let sink = Arc::new(TestSink {
        mailbox: Mailbox::new(100),
        rcpt_calls: AtomicUsize::new(0),
    });
    let server = Server::start(SocketAddr::from(([127, 0, 0, 1], 0)), config, sink.clone())
        .await
        .unwrap();
    (server, sink)
}

/// One reply: its code and the text of each line (after the code and separator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A raw SMTP client over any stream.
pub struct Client<S> {
    pub io: S,
    buf: Vec<u8>,
}

impl Client<TcpStream> {
    /// Connects, without reading the greeting.
    pub async fn connect(addr: SocketAddr) -> Self {
        Client {
            io: TcpStream::connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Connects from the loopback address `from` (e.g. 127.0.0.2), without reading the
    /// greeting.
    pub async fn connect_from(addr: SocketAddr, from: [u8; 4]) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        Client {
            io: socket.connect(addr).await.unwrap(),
            buf: Vec::new(),
        }
    }

    /// Connects and reads the 220 greeting.
    pub async fn greeted(addr: SocketAddr) -> Self {
        let mut c = Self::connect(addr).await;
        c.expect(220).await;
        c
    }

    /// Starts TLS on this connection (after a 220 to STARTTLS). Nothing may have been
    /// received beyond that reply.
    pub async fn starttls(self) -> Client<TlsStream<TcpStream>> {
        assert!(
            self.buf.is_empty(),
            "plaintext after the 220 to STARTTLS: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        let connector = tokio_rustls::TlsConnector::from(tls().client.clone());
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let io = tokio::time::timeout(REPLY_WAIT, connector.connect(name, self.io))
            .await
            .unwrap()
            .unwrap();
        Client {
            io,
            buf: Vec::new(),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.io.write_all(bytes.as_ref()).await.unwrap();
        self.io.flush().await.unwrap();
    }

    /// Reads one line (without CRLF); `None` at end of stream.
    async fn line(&mut self) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return Some(String::from_utf8(line).expect("replies are UTF-8"));
            }
            let mut chunk = [0u8; 4096];
            let n = tokio::time::timeout(REPLY_WAIT, self.io.read(&mut chunk))
                .await
                .expect("reply in time")
                .unwrap_or(0);
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "partial line at end: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads one complete reply, checking its form; `None` at end of stream.
    pub async fn try_reply(&mut self) -> Option<Reply> {
        let mut lines = Vec::new();
        let mut code = None;
        loop {
            let Some(line) = self.line().await else {
                assert!(lines.is_empty(), "reply cut short: {lines:?}");
                return None;
            };
            assert!(line.len() + 2 <= 512, "reply line too long: {line:?}");
            assert!(!line.chars().any(char::is_control), "control in {line:?}");
            let (c, rest) = line.split_at_checked(3).expect("code");
            let c: u16 = c.parse().unwrap_or_else(|_| panic!("bad code in {line:?}"));
            assert!((200..600).contains(&c), "bad code in {line:?}");
            if let Some(code) = code {
                assert_eq!(code, c, "code changes inside a reply: {line:?}");
            }
            code = Some(c);
            let (sep, text) = rest.split_at_checked(1).unwrap_or((" ", ""));
            lines.push(text.to_string());
            match sep {
                "-" => continue,
                " " => return Some(Reply { code: c, lines }),
                _ => panic!("bad separator in {line:?}"),
            }
        }
    }

    /// Reads one reply.
    pub async fn reply(&mut self) -> Reply {
        self.try_reply().await.expect("a reply, not the end")
    }

    /// Reads one reply and checks its code.
    pub async fn expect(&mut self, code: u16) -> Reply {
        let r = self.reply().await;
        assert_eq!(r.code, code, "unexpected reply {r:?}");
        r
    }

    /// Sends `line` CRLF and checks the reply's code.
    pub async fn cmd(&mut self, line: &str, code: u16) -> Reply {
        self.send(format!("{line}\r\n")).await;
        self.expect(code).await
    }

    /// Asserts the server closes the connection (after any replies already read).
    pub async fn expect_close(&mut self) {
        if let Some(r) = self.try_reply().await {
            panic!("expected the end, got {r:?}");
        }
    }
}
