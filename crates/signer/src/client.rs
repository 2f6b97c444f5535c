//! The front end's side of the signer socket.

use crate::protocol::{MAX_LINE, Request, Response};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Why a call to the signer failed (not a refusal: those are [`Response::Error`]).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be reached.
    #[error("the signer is not reachable: {0}")]
    Io(#[from] std::io::Error),
    /// No answer in time.
    #[error("the signer did not answer in time")]
    Timeout,
    /// An answer that does not parse.
    #[error("the signer answered something unreadable")]
    Protocol,
}

/// A client of the signer's socket.
#[derive(Debug, Clone)]
pub struct SignerClient {
    path: PathBuf,
}

impl SignerClient {
    /// A client for the socket at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SignerClient { path: path.into() }
    }

    /// One request, one answer (a fresh connection each time: simple and robust).
    pub async fn call(&self, req: &Request) -> Result<Response, ClientError> {
        tokio::time::timeout(Duration::from_secs(15), async {
            let stream = UnixStream::connect(&self.path).await?;
            let (rd, mut wr) = stream.into_split();
            let mut line = serde_json::to_vec(req).map_err(|_| ClientError::Protocol)?;
            line.push(b'\n');
            wr.write_all(&line).await?;
            let mut answer = Vec::new();
            BufReader::new(rd)
                .take(MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut answer)
                .await?;
            serde_json::from_slice(&answer).map_err(|_| ClientError::Protocol)
        })
        .await
        .map_err(|_| ClientError::Timeout)?
    }
}
