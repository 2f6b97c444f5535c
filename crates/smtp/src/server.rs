//! The tokio loop: accepting connections, reading and writing, timeouts, STARTTLS and
//! graceful shutdown, around the I/O-free session state machine.
//!
//! One task per session, at most [`Config::max_sessions`] of them, and at most
//! [`Config::max_sessions_per_client`] for one client address (IPv6: its /64; trusted
//! front MTAs exempt): a connection beyond is answered `421` and closed, so a flood meets
//! back-pressure instead of an unbounded queue, and one host cannot take every session.
//! Each session ends after [`Config::session_timeout`] whatever it does. Each session
//! reads into one fixed buffer, lets the session consume it command by command, and
//! writes the replies in order, flushing when the input is exhausted (RFC 2920 §3.1: the batch of replies to a batch of commands).
//!
//! STARTTLS: after the `220`, whatever is left in the buffer was sent before TLS and is
//! dropped unread; the handshake then reads from the socket itself, where plaintext would
//! only break it. After the handshake the session starts over without a greeting.
//!
//! Shutdown: the listener closes at once; sessions waiting for a command get `421` now,
//! sessions inside DATA finish their message (bounded by the DATA timeout) and get `421`
//! at their next command. [`serve`] returns when every session has ended.

use crate::config::Config;
use crate::reply::Reply;
use crate::session::{Session, Step};
use crate::sink::Sink;
use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::TlsAcceptor;
use tracing::{Instrument, debug, info, info_span, warn};

/// Size of a session's read buffer: the most unprocessed input a session holds.
const READ_BUFFER: usize = 8 * 1024;

/// Replies waiting to be written are flushed once they reach this size even if more
/// pipelined commands are waiting.
const FLUSH_AT: usize = 16 * 1024;

/// How long a closing session waits for the client to close in turn (see `linger`).
const LINGER: Duration = Duration::from_secs(1);

/// How much input a closing session reads and drops at most.
const LINGER_BYTES: usize = 64 * 1024;

/// Connections being told "too busy" at once; beyond, they are dropped without a word.
const MAX_REFUSING: usize = 64;

/// How long a refused connection gets to take its `421`.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Why a session ended badly (logged, never returned: one client's failure is not the
/// server's).
#[derive(Debug, thiserror::Error)]
enum SessionError {
    /// Reading or writing failed.
    #[error("connection: {0}")]
    Io(#[from] io::Error),
    /// The client did not take our replies in time.
    #[error("client does not read its replies")]
    WriteTimeout,
    /// The TLS handshake failed.
    #[error("TLS handshake: {0}")]
    Handshake(io::Error),
    /// The TLS handshake did not finish in time.
    #[error("TLS handshake timed out")]
    HandshakeTimeout,
}

/// How a stretch of session on one transport ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The session is over (QUIT, error limit, timeout, shutdown, client gone).
    Closed(&'static str),
    /// The client asked for TLS and got `220`.
    StartTls,
}

/// What every session of one server shares.
struct Shared {
    config: Arc<Config>,
    sink: Arc<dyn Sink>,
    tls: Option<TlsAcceptor>,
}

/// What a client address is counted by: an IPv4 address, or the /64 of an IPv6 one (one
/// host usually holds a whole /64); IPv4-mapped IPv6 as IPv4.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

/// Live sessions per client address. An entry exists only while its client has a
/// session, so the table holds at most [`Config::max_sessions`] entries.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One live session counted for its client; uncounted when dropped.
struct ClientSlot {
    table: Arc<PerClient>,
    key: IpAddr,
}

impl PerClient {
    /// Counts a session for `ip`, unless it already has `max`.
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let key = client_key(ip);
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Serves SMTP on `listener` until `shutdown` completes, then stops accepting, tells the
/// sessions (see the module docs) and returns once all have ended.
///
/// Fails only if `config` is invalid ([`io::ErrorKind::InvalidInput`]); failures of
/// single connections are logged.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    sink: Arc<dyn Sink>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    config
        .validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let shared = Arc::new(Shared {
        tls: config.tls.clone().map(TlsAcceptor::from),
        config: Arc::new(config),
        sink,
    });
    let sessions = Arc::new(Semaphore::new(shared.config.max_sessions));
    let per_client = Arc::new(PerClient::default());
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let local = listener.local_addr().ok();
    info!(addr = ?local, "SMTP server listening");
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    warn!(error = %e, "SMTP session task failed");
                }
            }
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let config = &shared.config;
                // Trusted front MTAs carry everyone's mail: only they may hold many.
                let exempt = config
                    .xforward_from
                    .iter()
                    .any(|a| a.to_canonical() == peer.ip().to_canonical());
                let slot = if exempt {
                    None
                } else {
                    match per_client.take(peer.ip(), config.max_sessions_per_client) {
                        Some(slot) => Some(slot),
                        None => {
                            info!(client = %peer, "too many sessions from one address: refused with 421");
                            if let Ok(permit) = refusing.clone().try_acquire_owned() {
                                let reply = Reply::new(
                                    421,
                                    "4.7.0",
                                    format!(
                                        "too many sessions from your address (at most {}), try later",
                                        config.max_sessions_per_client
                                    ),
                                );
                                tasks.spawn(async move {
                                    refuse(stream, reply).await;
                                    drop(permit);
                                });
                            }
                            continue;
                        }
                    }
                };
                match sessions.clone().try_acquire_owned() {
                    Ok(permit) => {
                        let shared = shared.clone();
                        let stop = stop_rx.clone();
                        let span = info_span!("smtp", client = %peer);
                        tasks.spawn(
                            async move {
                                run_session(stream, peer, &shared, stop).await;
                                drop(permit);
                                drop(slot);
                            }
                            .instrument(span),
                        );
                    }
                    Err(_) => {
                        info!(client = %peer, "too many sessions: refused with 421");
                        drop(slot);
                        if let Ok(permit) = refusing.clone().try_acquire_owned() {
                            tasks.spawn(async move {
                                refuse(stream, Reply::new(421, "4.3.2", "too busy, try later")).await;
                                drop(permit);
                            });
                        }
                    }
                }
            }
        }
    }
    drop(listener);
    info!(sessions = tasks.len(), "SMTP server shutting down");
    let _ = stop_tx.send(true);
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            warn!(error = %e, "SMTP session task failed");
        }
    }
    info!(addr = ?local, "SMTP server stopped");
    Ok(())
}

/// Tells a connection beyond the session limits to come back later.
async fn refuse(mut stream: TcpStream, reply: Reply) {
    let mut out = Vec::new();
    reply.write_to(&mut out);
    let _ = timeout(REFUSE_TIMEOUT, async {
        stream.write_all(&out).await?;
        stream.shutdown().await
    })
    .await;
}

async fn run_session(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
    mut stop: watch::Receiver<bool>,
) {
    debug!("session opened");
    let mut session = Session::new(shared.config.clone(), shared.sink.clone(), peer);
    let mut out = Vec::new();
    session.greeting().write_to(&mut out);
    let end = Instant::now() + shared.config.session_timeout;
    let result = async {
        let ending = drive(&mut stream, &mut session, shared, &mut stop, out, end).await?;
        if ending != Ending::StartTls {
            linger(&mut stream).await;
            return Ok(ending);
        }
        let Some(acceptor) = &shared.tls else {
            return Ok(Ending::Closed("TLS not configured"));
        };
        let handshake_end = end.min(Instant::now() + shared.config.command_timeout);
        let mut tls = match timeout_at(handshake_end, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => return Err(SessionError::Handshake(e)),
            Err(_) => return Err(SessionError::HandshakeTimeout),
        };
        debug!("TLS established");
        session.tls_started();
        let ending = drive(&mut tls, &mut session, shared, &mut stop, Vec::new(), end).await?;
        linger(&mut tls).await;
        Ok(ending)
    }
    .await;
    match result {
        Ok(ending) => debug!(?ending, "session closed"),
        Err(e) => info!(error = %e, "session ended"),
    }
}

/// Closes our side, then reads and drops what the client still sends, for a moment.
///
/// Closing a socket with unread input makes the kernel answer RST, and a client that
/// gets RST may lose the last reply (the `421` telling it why). So: FIN first, then wait
/// for the client's FIN, bounded in time and bytes.
async fn linger<S: AsyncRead + AsyncWrite + Unpin>(io: &mut S) {
    let deadline = Instant::now() + LINGER;
    if timeout_at(deadline, io.shutdown()).await.is_err() {
        return;
    }
    let mut sink = [0u8; 1024];
    let mut drained = 0;
    while drained < LINGER_BYTES {
        match timeout_at(deadline, io.read(&mut sink)).await {
            Ok(Ok(n)) if n > 0 => drained += n,
            _ => return,
        }
    }
}

/// Whether the server is shutting down (or gone).
fn stopping(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow() || stop.has_changed().is_err()
}

/// Runs the session on one transport until it closes or turns to TLS. `out` holds
/// replies not yet written; `session_end` is when the whole session must be over.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    session: &mut Session,
    shared: &Shared,
    stop: &mut watch::Receiver<bool>,
    mut out: Vec<u8>,
    session_end: Instant,
) -> Result<Ending, SessionError> {
    let config = &shared.config;
    let mut buf = vec![0u8; READ_BUFFER];
    let (mut start, mut end) = (0, 0);
    let mut command_deadline = Instant::now() + config.command_timeout;
    let mut data_deadline: Option<Instant> = None;
    loop {
        while start < end {
            if !session.in_data() && stopping(stop) {
                return close(io, &mut out, session.shutting_down(), config, "shutdown").await;
            }
            let mut input = &buf[start..end];
            let step = session.next(&mut input);
            start = end - input.len();
            let Some(step) = step else { break };
            match step {
                Step::Reply(reply) => reply.write_to(&mut out),
                Step::Close(reply) => return close(io, &mut out, reply, config, "closed").await,
                Step::StartTls(reply) => {
                    reply.write_to(&mut out);
                    write(io, &mut out, config).await?;
                    if start < end {
                        warn!(
                            bytes = end - start,
                            "discarding input pipelined after STARTTLS (injection attempt?)"
                        );
                    }
                    return Ok(Ending::StartTls);
                }
                Step::Deliver(envelope, message) => {
                    let (from, rcpts, size) = (
                        envelope.mail_from.clone(),
                        envelope.rcpt_to.len(),
                        message.len(),
                    );
                    let verdict = shared.sink.deliver(envelope, message).await;
                    let reply = session.delivered(&verdict);
                    info!(%from, rcpts, size, code = reply.code(), "message received");
                    reply.write_to(&mut out);
                }
            }
            let now = Instant::now();
            command_deadline = now + config.command_timeout;
            data_deadline = match (session.in_data(), data_deadline) {
                (true, None) => Some(now + config.data_timeout),
                (true, kept) => kept,
                (false, _) => None,
            };
            if out.len() >= FLUSH_AT {
                write(io, &mut out, config).await?;
            }
        }
        write(io, &mut out, config).await?;
        let in_data = session.in_data();
        if !in_data && stopping(stop) {
            return close(io, &mut out, session.shutting_down(), config, "shutdown").await;
        }
        if Instant::now() >= session_end {
            info!(in_data, "session too long");
            return close(io, &mut out, session.too_long(), config, "session timeout").await;
        }
        let deadline = data_deadline.unwrap_or(command_deadline);
        tokio::select! {
            read = timeout_at(deadline.min(session_end), io.read(&mut buf)) => match read {
                Err(_) if deadline >= session_end => {
                    info!(in_data, "session too long");
                    return close(io, &mut out, session.too_long(), config, "session timeout").await;
                }
                Err(_) => {
                    info!(in_data, "client too slow");
                    return close(io, &mut out, session.timed_out(), config, "timeout").await;
                }
                Ok(Ok(0)) => return Ok(Ending::Closed("client closed the connection")),
                Ok(Ok(n)) => (start, end) = (0, n),
                Ok(Err(e)) => return Err(e.into()),
            },
            _ = stop.changed(), if !in_data => {
                // Checked at the top of the loop.
            }
        }
    }
}

/// Writes `out` (and flushes: TLS buffers), bounded by the command timeout.
async fn write<S: AsyncWrite + Unpin>(
    io: &mut S,
    out: &mut Vec<u8>,
    config: &Config,
) -> Result<(), SessionError> {
    if out.is_empty() {
        return Ok(());
    }
    match timeout(config.command_timeout, async {
        io.write_all(out).await?;
        io.flush().await
    })
    .await
    {
        Ok(Ok(())) => {
            out.clear();
            Ok(())
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(SessionError::WriteTimeout),
    }
}

/// Writes the pending replies and a final one.
async fn close<S: AsyncWrite + Unpin>(
    io: &mut S,
    out: &mut Vec<u8>,
    last: Reply,
    config: &Config,
    why: &'static str,
) -> Result<Ending, SessionError> {
    last.write_to(out);
    write(io, out, config).await?;
    Ok(Ending::Closed(why))
}

/// A server running in its own task: what the lab and tests start. Dropping it shuts the
/// server down too, without waiting; [`Server::shutdown`] waits.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves there in a new task.
    pub async fn start(addr: SocketAddr, config: Config, sink: Arc<dyn Sink>) -> io::Result<Self> {
        config
            .validate()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(listener, config, sink, async move {
            let _ = stopped.await;
        }));
        Ok(Server {
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Shuts down gracefully and waits until every session has ended.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.map_err(io::Error::other)?
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Dropping the sender also ends `serve` gracefully (the shutdown future completes).
        self.stop.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_64_and_the_table_empties() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        let table = Arc::new(PerClient::default());
        let slots: Vec<_> = (1..=5)
            .map(|i| table.take(ip(&format!("2001:db8::{i}")), 5).unwrap())
            .collect();
        assert!(table.take(ip("2001:db8::ff"), 5).is_none());
        assert!(table.take(ip("2001:db8:0:1::1"), 5).is_some());
        drop(slots);
        let live = table.0.lock().unwrap().len();
        assert_eq!(live, 0, "entries live only while sessions do");
    }
}
