//! The signer's socket: a Unix domain socket only its owner can open (mode 0600; or 0660
//! with the group of `--socket-gid`, for a front end that runs as a user of its own), one JSON
//! request per line, bounded lines and connections, every request answered and audited by
//! the [`Signer`]. A connection that sends no whole line within [`IDLE_TIMEOUT`] (or does
//! not take its answer within it) is closed, so idle or slow clients cannot hold the
//! [`MAX_CONNECTIONS`] slots.

use crate::protocol::{ErrorCode, MAX_LINE, Request, Response};
use crate::service::Signer;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;
/// A request line must arrive whole, and an answer be taken, within this long; otherwise
/// the connection is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds the socket at `path` (replacing a stale one) with mode 0600, or, given a group,
/// 0660 with that group (the front end's user is its only other member, so the front end
/// can run as a user of its own who cannot read the master key). It is bound in a fresh
/// 0700 directory beside `path`, given its mode and group and only then moved to `path`:
/// whatever the umask, nobody else can connect to it at any instant.
pub fn bind(path: &Path, group: Option<u32>) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
    let _ = std::fs::remove_file(path);
    let mut dir = path.as_os_str().to_owned();
    dir.push(".new");
    let dir = std::path::PathBuf::from(dir);
    let inner = dir.join("s");
    // A leftover of a crash here (a socket, then the directory if that left it empty).
    if std::fs::symlink_metadata(&inner).is_ok_and(|m| m.file_type().is_socket()) {
        let _ = std::fs::remove_file(&inner);
    }
    let _ = std::fs::remove_dir(&dir);
    std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
    let bound = UnixListener::bind(&inner).and_then(|l| {
        let mode = match group {
            Some(gid) => {
                std::os::unix::fs::chown(&inner, None, Some(gid))?;
                0o660
            }
            None => 0o600,
        };
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&inner, path)?;
        Ok(l)
    });
    let _ = std::fs::remove_file(&inner);
    let _ = std::fs::remove_dir(&dir);
    bound
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: UnixListener,
    signer: Arc<Signer>,
    shutdown: impl Future<Output = ()>,
) {
    serve_with_idle(listener, signer, IDLE_TIMEOUT, shutdown).await;
}

/// [`serve`] with another idle timeout (tests).
pub async fn serve_with_idle(
    listener: UnixListener,
    signer: Arc<Signer>,
    idle: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut shutdown => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream); // over capacity: the client sees the connection close
            continue;
        };
        let signer = signer.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _ = connection(stream, &signer, idle).await;
        });
    }
}

async fn connection(stream: UnixStream, signer: &Signer, idle: Duration) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut rd).take(MAX_LINE as u64 + 1);
        let read = limited.read_until(b'\n', &mut line);
        let Ok(n) = tokio::time::timeout(idle, read).await else {
            return Ok(()); // idle or too slow: closed
        };
        let n = n?;
        if n == 0 {
            return Ok(());
        }
        let too_long = line.len() > MAX_LINE;
        let answer = if too_long {
            Response::Error {
                code: ErrorCode::BadRequest,
            }
        } else {
            match serde_json::from_slice::<Request>(&line) {
                Ok(req) => signer.handle(req).await,
                Err(_) => Response::Error {
                    code: ErrorCode::BadRequest,
                },
            }
        };
        let mut out = serde_json::to_vec(&answer).unwrap_or_default();
        out.push(b'\n');
        match tokio::time::timeout(idle, wr.write_all(&out)).await {
            Ok(written) => written?,
            Err(_) => return Ok(()), // the answer was not taken: closed
        }
        if too_long {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::SignerClient;
    use crate::service::Caps;
    use crate::store::SignerStore;
    use camkey_proto::clock::SystemClock;
    use camkey_proto::keys::MasterKey;

    /// The socket is the signer's user's alone (0600), or shared with one group (0660),
    /// whatever the umask; a stale socket at the path is replaced.
    #[tokio::test]
    async fn the_socket_is_private_or_shared_with_one_group() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signer.sock");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let first = bind(&path, None).unwrap();
        assert_eq!(mode(&path), 0o600);
        drop(first);
        // Our own group is one we may give the socket, root or not.
        let gid = std::fs::metadata(dir.path()).unwrap().gid();
        let _shared = bind(&path, Some(gid)).unwrap();
        assert_eq!(mode(&path), 0o660);
        assert_eq!(std::fs::metadata(&path).unwrap().gid(), gid);
        assert!(UnixStream::connect(&path).await.is_ok());
        // Nothing is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("signer.sock")]);
    }

    /// A local process that opens every connection slot and sends nothing (or one byte at
    /// a time) holds the signer only for the idle timeout (docs/security.md, item 12).
    #[tokio::test(flavor = "multi_thread")]
    async fn idle_and_slow_connections_are_closed_and_the_slots_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = SignerStore::open(&dir.path().join("signer.db"))
            .await
            .unwrap();
        let signer = Arc::new(Signer::new(
            vec![MasterKey::from_bytes(1, [1; 32])],
            store,
            Arc::new(SystemClock::default()),
            Caps::default(),
        ));
        let path = dir.path().join("signer.sock");
        let listener = bind(&path, None).unwrap();
        let idle = Duration::from_millis(400);
        tokio::spawn(serve_with_idle(
            listener,
            signer,
            idle,
            std::future::pending(),
        ));
        let client = SignerClient::new(&path);
        assert!(matches!(
            client.call(&Request::Health).await,
            Ok(Response::Healthy { .. })
        ));
        // Every slot held by a silent connection, one by a slow one.
        let mut held = Vec::new();
        for _ in 0..MAX_CONNECTIONS - 1 {
            held.push(UnixStream::connect(&path).await.unwrap());
        }
        let mut slow = UnixStream::connect(&path).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            client.call(&Request::Health).await.is_err(),
            "every slot is taken"
        );
        let drip = async {
            // One byte every 100 ms, never a whole line: how many got through.
            for sent in 0..100 {
                if slow.write_all(b" ").await.is_err() {
                    return sent;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            100
        };
        let sent = tokio::time::timeout(Duration::from_secs(20), drip)
            .await
            .unwrap();
        assert!(sent < 100, "the slow connection was never cut");
        for mut c in held {
            let mut buf = [0u8; 1];
            let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut buf))
                .await
                .expect("closed by the signer")
                .unwrap_or(0);
            assert_eq!(n, 0);
        }
        assert!(matches!(
            client.call(&Request::Health).await,
            Ok(Response::Healthy { .. })
        ));
    }
}
