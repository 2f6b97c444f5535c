//! Our YMODEM against lrzsz, the implementation technicians have: `sb` sends to our
//! [`Receiver`], our [`Sender`] sends to `rb`, each a child process talking over its
//! stdin and stdout, with a ~300 KB signed image each way (checked as it arrives, as a
//! camera does).
//!
//! The test needs the `lrzsz` package (`sb`, `rb`), which the README's test command
//! installs; without it, it fails and says so.

use camkey_firmware::image::{self, Intake};
use camkey_firmware::ymodem::{Limits, ReceiveEvent, Receiver, SendEvent, Sender};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SIZE: usize = 300_000;

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Both lrzsz programs.
fn lrzsz() -> (PathBuf, PathBuf) {
    match (which("sb"), which("rb")) {
        (Some(sb), Some(rb)) => (sb, rb),
        _ => {
            panic!("lrzsz's sb and rb are not installed: apt-get install lrzsz (scripts/test does)")
        }
    }
}

fn key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x42; 32])
}

/// A signed firmware image of exactly SIZE bytes.
fn payload() -> Vec<u8> {
    let release = image::Release {
        model: "IPC4K15",
        version: "9.9.9-test",
        security_version: 1,
    };
    let len = (SIZE - image::HEADER_LEN) as u64;
    let payload = image::generated_payload(release.model, release.version, len).expect("payload");
    image::build(&key(), &release, &payload).expect("image")
}

/// A child process and what it writes, chunk by chunk.
struct Peer {
    child: Child,
    stdin: Option<ChildStdin>,
    output: mpsc::Receiver<Vec<u8>>,
}

enum Heard {
    Bytes(Vec<u8>),
    Nothing,
    Closed,
}

impl Peer {
    fn spawn(program: &Path, args: &[&str], dir: &Path) -> Peer {
        let mut child = Command::new(program)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("lrzsz starts");
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("stdout");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            loop {
                match stdout.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Peer {
            child,
            stdin,
            output,
        }
    }

    fn hear(&self, timeout: Duration) -> Heard {
        match self.output.recv_timeout(timeout) {
            Ok(bytes) => Heard::Bytes(bytes),
            Err(mpsc::RecvTimeoutError::Timeout) => Heard::Nothing,
            Err(mpsc::RecvTimeoutError::Disconnected) => Heard::Closed,
        }
    }

    fn say(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        if let Some(stdin) = self.stdin.as_mut() {
            // A peer that has exited is seen as a closed output next.
            let _ = stdin.write_all(bytes).and_then(|()| stdin.flush());
        }
    }

    /// Closes its input and waits for it; true if it exited with success.
    fn finish(mut self) -> bool {
        drop(self.stdin.take());
        for _ in 0..100 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

/// Receives from `sb` with our receiver; returns the file's name and bytes.
fn receive_from_sb(sb: &Path, args: &[&str]) -> (String, Vec<u8>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = payload();
    std::fs::write(dir.path().join("camera-fw.bin"), &data).expect("write");
    let mut all_args = args.to_vec();
    all_args.push("camera-fw.bin");
    let mut peer = Peer::spawn(sb, &all_args, dir.path());
    let mut receiver = Receiver::new(Limits::default());
    peer.say(&receiver.start());
    let mut name = String::new();
    let mut received = Vec::new();
    let mut complete = false;
    let mut intake = Intake::new(key().verifying_key(), "IPC4K15", 1);
    let mut timeouts = 0;
    for _ in 0..100_000 {
        if receiver.is_finished() {
            break;
        }
        let mut out = match peer.hear(receiver.timeout()) {
            Heard::Bytes(bytes) => receiver.feed(&bytes),
            Heard::Nothing => {
                timeouts += 1;
                receiver.on_timeout()
            }
            Heard::Closed => break,
        };
        let mut i = 0;
        while i < out.events.len() {
            match out.events[i].clone() {
                ReceiveEvent::FileAnnounced { name: n, size } => {
                    assert_eq!(size, SIZE as u64, "sb announces the size");
                    name = n;
                    let more = receiver.accept();
                    out.send.extend(more.send);
                    out.events.extend(more.events);
                }
                ReceiveEvent::Data(d) => {
                    // As the camera does: the image is checked as it arrives.
                    intake.push(&d).expect("the image passes its checks");
                    received.extend_from_slice(&d);
                }
                ReceiveEvent::FileComplete { .. } => complete = true,
                ReceiveEvent::Failed(e) => panic!("receiving from sb: {e}"),
                ReceiveEvent::Cancelled => panic!("sb cancelled"),
                ReceiveEvent::BatchComplete => {}
            }
            i += 1;
        }
        peer.say(&out.send);
    }
    eprintln!("sb {args:?}: {} bytes, {timeouts} timeouts", received.len());
    assert!(complete, "the file completed");
    assert_eq!(
        intake.finish().expect("a whole image").fields.version,
        "9.9.9-test"
    );
    assert!(receiver.is_finished(), "the batch ended");
    assert!(peer.finish(), "sb exits with success");
    (name, received)
}

#[test]
fn sb_sends_to_our_receiver() {
    let (sb, _) = lrzsz();
    let data = payload();
    for args in [&["--ymodem", "-q"][..], &["--ymodem", "-q", "-k"]] {
        let (name, received) = receive_from_sb(&sb, args);
        assert_eq!(name, "camera-fw.bin");
        assert_eq!(received.len(), data.len(), "{args:?}");
        assert!(received == data, "{args:?}: the bytes differ");
    }
}

#[test]
fn our_sender_sends_to_rb() {
    let (_, rb) = lrzsz();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = payload();
    let mut peer = Peer::spawn(&rb, &["--ymodem", "-q"], dir.path());
    let mut sender =
        Sender::new("flash-image.bin", data.clone(), Limits::default()).expect("sender");
    let mut delivered = false;
    let mut timeouts = 0;
    for _ in 0..100_000 {
        if sender.is_finished() {
            break;
        }
        let out = match peer.hear(sender.timeout()) {
            Heard::Bytes(bytes) => sender.feed(&bytes),
            Heard::Nothing => {
                timeouts += 1;
                sender.on_timeout()
            }
            Heard::Closed => break,
        };
        for event in &out.events {
            match event {
                SendEvent::FileDelivered => delivered = true,
                SendEvent::Failed(e) => panic!("sending to rb: {e}"),
                SendEvent::Cancelled => panic!("rb cancelled"),
                SendEvent::Progress { .. } | SendEvent::BatchComplete => {}
            }
        }
        peer.say(&out.send);
    }
    eprintln!(
        "rb: {} bytes acknowledged, {timeouts} timeouts",
        sender.acked()
    );
    assert!(
        delivered && sender.file_delivered(),
        "rb acknowledged the file"
    );
    assert!(sender.is_finished(), "rb acknowledged the end of the batch");
    assert!(peer.finish(), "rb exits with success");
    let written = std::fs::read(dir.path().join("flash-image.bin")).expect("rb wrote the file");
    assert_eq!(written.len(), data.len());
    assert!(written == data, "the bytes differ");
}
