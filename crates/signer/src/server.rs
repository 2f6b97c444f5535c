//! The signer's socket: a Unix domain socket only its owner can open (mode 0600), one JSON
//! request per line, bounded lines and connections, every request answered and audited by
//! the [`Signer`].

use crate::protocol::{ErrorCode, MAX_LINE, Request, Response};
use crate::service::Signer;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Connections served at once.
pub const MAX_CONNECTIONS: usize = 64;

/// Binds the socket at `path` (replacing a stale one) with mode 0600. It is bound in a
/// fresh 0700 directory beside `path`, made 0600 and only then moved to `path`: whatever
/// the umask, nobody else can connect to it at any instant.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
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
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
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
            let _ = connection(stream, &signer).await;
        });
    }
}

async fn connection(stream: UnixStream, signer: &Signer) -> std::io::Result<()> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let mut line = Vec::new();
        let n = (&mut rd)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
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
        wr.write_all(&out).await?;
        if too_long {
            return Ok(());
        }
    }
}
