//! S7: a writer process killed with SIGKILL at random instants, hundreds of times; the
//! state on flash is always the old one or the new one: it parses, holds its invariants,
//! and is never "initialized without a password".
//!
//! The writer is this same test binary, re-executed to run [`torture_child`] (ignored in
//! normal runs), which initializes the camera and then changes its password, fails
//! sign-ins and, every few rounds, factory-resets it (as the held button does) as fast as
//! it can: every one of those is a durable state change. A cut camera is never half
//! reset: uninitialized means every user setting is the factory default.

use camkey_camera::core::{Core, CoreConfig, CoreError};
use camkey_camera::state::UserState;
use camkey_camera::store::AtomicFile;
use camkey_factory::{ProvisionRequest, VendorKeys, VendorProfile};
use camkey_proto::api::InitRequest;
use camkey_proto::clock::ManualClock;
use rand::Rng;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const A: &str = "tulip-harbor-quietly-42";
const B: &str = "violet-canyon-marching-17";
const ENV: &str = "CAMKEY_TORTURE_DIR";

#[tokio::test(flavor = "multi_thread")]
#[ignore = "the writer process of power_cut_leaves_old_or_new_state"]
async fn torture_child() {
    let Ok(dir) = std::env::var(ENV) else {
        panic!("run by power_cut_leaves_old_or_new_state only");
    };
    let dir = std::path::PathBuf::from(dir);
    let id = camkey_camera::load_identity(&dir.join("factory")).unwrap();
    let config = CoreConfig {
        init_window_ms: u64::MAX,
        ..Default::default()
    };
    let core = Core::boot(
        id.factory,
        Arc::new(ManualClock::new(0)),
        &dir.join("flash"),
        config,
    )
    .unwrap();
    // Tell the parent the writer is up: its cut then lands in the middle of the work,
    // however slowly this machine starts processes.
    std::fs::write(dir.join("ready"), b"").unwrap();
    let mut rng = rand::thread_rng();
    loop {
        let src = IpAddr::V4(Ipv4Addr::from(rng.r#gen::<u32>()));
        if !core.initialized() {
            let req = InitRequest {
                password: A.into(),
                recovery_email: Some("owner@example.com".into()),
                security_questions: vec![],
                setup_code: None,
                network: None,
                time: None,
                onvif: false,
            };
            core.init(req, src).await.unwrap();
            continue;
        }
        match core.change_password("admin", A, B, src).await {
            Ok(()) => {}
            Err(CoreError::WrongPassword { .. }) => {
                core.change_password("admin", B, A, src).await.unwrap()
            }
            Err(e) => panic!("{e}"),
        }
        let _ = core.login("admin", "not-the-password", src).await;
        if rng.gen_range(0..4) == 0 {
            core.factory_reset("button").unwrap();
        }
    }
}

#[test]
fn power_cut_leaves_old_or_new_state() {
    let tmp = tempfile::tempdir().unwrap();
    let keys =
        VendorKeys::generate(&tmp.path().join("vendor"), 1, &VendorProfile::default()).unwrap();
    let req = ProvisionRequest {
        model: "IPC4K15",
        serial: "IPC4K15-P0001",
        extra_names: vec![],
    };
    camkey_factory::provision(&keys, &req, &tmp.path().join("factory")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let store = AtomicFile::new(&tmp.path().join("flash"), "state.json").unwrap();
    let mut rng = rand::thread_rng();
    let (mut uninitialized, mut initialized, mut last_generation, mut resets) = (0, 0, 0, 0);
    const CUTS: usize = 200;
    for _ in 0..CUTS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "power::torture_child",
                "--ignored",
                "--test-threads=1",
            ])
            .env(ENV, tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = tmp.path().join("ready");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !ready.exists() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = std::fs::remove_file(&ready);
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..400_000)));
        child.kill().unwrap(); // SIGKILL: no destructor, no flush, like a power cut
        let status = child.wait().unwrap();
        assert!(!status.success(), "the writer must not exit by itself");

        let state: Option<UserState> = store.load().expect("state on flash always parses");
        match state {
            None => uninitialized += 1,
            Some(s) => {
                s.validate().expect("state invariants hold");
                assert!(
                    s.generation >= last_generation,
                    "a committed change was lost"
                );
                last_generation = s.generation;
                if s.initialized() {
                    initialized += 1;
                    let hash = &s.account("admin").unwrap().password_hash;
                    assert!(
                        camkey_passwords::verify(A, hash) || camkey_passwords::verify(B, hash),
                        "the password on flash is one of the two the writer set"
                    );
                } else {
                    // Never half reset: every user setting is the factory default, and a
                    // reset's audit entry is there.
                    let wiped = s.factory_reset();
                    assert_eq!(
                        UserState {
                            elapsed_at_save: s.elapsed_at_save,
                            ..s.clone()
                        },
                        UserState {
                            elapsed_at_save: s.elapsed_at_save,
                            ..wiped
                        },
                        "an uninitialized camera kept user settings"
                    );
                    if s.audit.iter().any(|e| e.event == "factory_reset") {
                        resets += 1;
                    }
                    uninitialized += 1;
                }
            }
        }
    }
    eprintln!(
        "{CUTS} power cuts: {uninitialized} found uninitialized ({resets} after a factory reset), {initialized} initialized; {last_generation} durable changes"
    );
    assert!(resets > 0, "some cuts landed after a factory reset");
    assert_eq!(uninitialized + initialized, CUTS);
    assert!(
        initialized > 0 && last_generation > 50,
        "the writer got far enough to be tested"
    );
}
