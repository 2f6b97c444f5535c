//! The camera core's side of ONVIF: the sealed password and its switch, ONVIF sign-in under
//! the limits of S4 (the NVR that signed in before is never held up by a storm of wrong
//! passwords from other addresses), the account table, the wall clock an NVR sets, the
//! discovery mode, factory defaults and the reboot request.

use crate::common::{GOOD_PASSWORD, OTHER_PASSWORD, TestCamera};
use camkey_camera::core::{Core, CoreError, NewUser};
use camkey_camera::state::Role;
use camkey_proto::api::{InitRequest, NetworkSettings, QuestionAnswer};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

const THIRD_PASSWORD: &str = "amber-lantern-drifting-93";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn init_request(onvif: bool) -> InitRequest {
    InitRequest {
        password: GOOD_PASSWORD.into(),
        recovery_email: None,
        security_questions: vec![QuestionAnswer {
            question: "What was the name of your first pet?".into(),
            answer: "Marmaduke the tortoise".into(),
        }],
        setup_code: None,
        network: None,
        time: None,
        onvif,
    }
}

async fn camera(onvif: bool) -> TestCamera {
    let cam = TestCamera::start("IPC4K15").await;
    cam.core()
        .init(init_request(onvif), ip("127.0.0.1"))
        .await
        .unwrap();
    cam
}

async fn onvif(
    core: &Core,
    user: &str,
    password: &str,
    from: &str,
) -> Result<(String, Role), CoreError> {
    core.verify_onvif(user, ip(from), |pw| pw == password).await
}

fn events(core: &Core, event: &str) -> usize {
    core.audit().iter().filter(|e| e.event == event).count()
}

fn user(name: &str, password: &str, role: Role) -> NewUser {
    NewUser {
        name: name.into(),
        password: password.into(),
        role,
    }
}

#[tokio::test]
async fn onvif_access_is_off_by_default_and_the_switch_keeps_or_drops_the_sealed_password() {
    let mut cam = camera(false).await;
    let core = cam.core().clone();
    assert_eq!(core.state().accounts[0].onvif, None);
    let mut seen = Vec::new();
    let r = core
        .verify_onvif("admin", ip("127.0.0.2"), |pw| {
            seen.push(pw.to_string());
            pw == GOOD_PASSWORD
        })
        .await;
    assert!(matches!(r, Err(CoreError::BadCredentials { .. })), "{r:?}");
    assert!(!seen.iter().any(|p| p == GOOD_PASSWORD));

    // Switching on needs the current password.
    let r = core
        .set_onvif_access("admin", true, None, ip("127.0.0.1"))
        .await;
    assert!(matches!(r, Err(CoreError::PasswordRequired)), "{r:?}");
    let r = core
        .set_onvif_access("admin", true, Some(OTHER_PASSWORD), ip("127.0.0.1"))
        .await;
    assert!(matches!(r, Err(CoreError::WrongPassword { .. })), "{r:?}");
    core.set_onvif_access("admin", true, Some(GOOD_PASSWORD), ip("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(
        onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2")
            .await
            .unwrap(),
        ("admin".to_string(), Role::Administrator)
    );
    // Sealed, not in clear, on flash; and bound to its account.
    let flash = std::fs::read_to_string(cam.data_dir().join("state.json")).unwrap();
    assert!(!flash.contains(GOOD_PASSWORD));
    let sealed = core.state().accounts[0].onvif.clone().unwrap();
    assert!(sealed.starts_with("v1."), "{sealed}");

    // A password change seals the new one.
    core.change_password("admin", GOOD_PASSWORD, OTHER_PASSWORD, ip("127.0.0.1"))
        .await
        .unwrap();
    assert!(
        onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2")
            .await
            .is_err()
    );
    onvif(&core, "admin", OTHER_PASSWORD, "127.0.0.2")
        .await
        .unwrap();
    assert_ne!(core.state().accounts[0].onvif.as_ref(), Some(&sealed));

    // So does every recovery.
    core.recover_with_answers(
        &["marmaduke the TORTOISE".into()],
        THIRD_PASSWORD,
        ip("127.0.0.1"),
        None,
    )
    .await
    .unwrap();
    onvif(&core, "admin", THIRD_PASSWORD, "127.0.0.2")
        .await
        .unwrap();
    assert!(core.state().accounts[0].onvif.is_some());

    // It survives a reboot (the device key opens it again).
    cam.power_cycle().await;
    let core = cam.core().clone();
    onvif(&core, "admin", THIRD_PASSWORD, "127.0.0.2")
        .await
        .unwrap();

    // Off: the secret is gone at once.
    core.set_onvif_access("admin", false, None, ip("127.0.0.1"))
        .await
        .unwrap();
    assert_eq!(core.state().accounts[0].onvif, None);
    assert!(
        onvif(&core, "admin", THIRD_PASSWORD, "127.0.0.2")
            .await
            .is_err()
    );
    assert_eq!(events(&core, "onvif_access_on"), 1);
    assert_eq!(events(&core, "onvif_access_off"), 1);

    // A factory reset wipes it with the account.
    core.set_onvif_access("admin", true, Some(THIRD_PASSWORD), ip("127.0.0.1"))
        .await
        .unwrap();
    core.factory_reset("button").unwrap();
    let s = core.state();
    assert!(s.accounts.is_empty() && s.onvif_clients.is_empty());
    assert!(matches!(
        onvif(&core, "admin", THIRD_PASSWORD, "127.0.0.2").await,
        Err(CoreError::NotInitialized)
    ));
}

#[tokio::test]
async fn init_can_switch_onvif_on_and_a_sealed_password_opens_only_for_its_account() {
    let cam = camera(true).await;
    let core = cam.core().clone();
    onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.3")
        .await
        .unwrap();
    core.create_users(
        "admin",
        vec![user("nvr", OTHER_PASSWORD, Role::User)],
        ip("127.0.0.1"),
    )
    .await
    .unwrap();
    assert_eq!(
        onvif(&core, "nvr", OTHER_PASSWORD, "127.0.0.3")
            .await
            .unwrap(),
        ("nvr".to_string(), Role::User)
    );
    // admin's sealed password copied onto nvr does not open: bound to the account name.
    let mut s = core.state();
    let admin_secret = s.accounts[0].onvif.clone();
    s.accounts[1].onvif = admin_secret;
    let store = camkey_camera::store::AtomicFile::new(&cam.data_dir(), "state.json").unwrap();
    store.save(&s).unwrap();
    let mut cam = cam;
    cam.power_cycle().await;
    let core = cam.core().clone();
    assert!(
        onvif(&core, "nvr", GOOD_PASSWORD, "127.0.0.3")
            .await
            .is_err()
    );
    assert!(
        onvif(&core, "nvr", OTHER_PASSWORD, "127.0.0.3")
            .await
            .is_err()
    );
}

/// The key test: a LAN storm of wrong passwords from many 127.0.0.x addresses neither
/// delays nor locks the NVR that signed in before, while newcomers are slowed.
#[tokio::test]
async fn a_storm_of_wrong_passwords_never_holds_up_the_nvr_that_signed_in_before() {
    let cam = camera(true).await;
    let core = cam.core().clone();
    let nvr = "127.0.0.2";
    for _ in 0..20 {
        onvif(&core, "admin", GOOD_PASSWORD, nvr).await.unwrap();
    }
    // Only the first success of the pair is audited.
    assert_eq!(events(&core, "onvif_signed_in"), 1);

    // Others with the admin password (the owner's laptop on changing addresses, or anyone
    // who has it) come and go: they never push the NVR out of the remembered clients.
    for i in 100..140 {
        onvif(&core, "admin", GOOD_PASSWORD, &format!("127.0.0.{i}"))
            .await
            .unwrap();
    }
    // Another account's clients cannot either.
    core.create_users(
        "admin",
        vec![user("viewer", OTHER_PASSWORD, Role::User)],
        ip("127.0.0.1"),
    )
    .await
    .unwrap();
    for i in 140..200 {
        onvif(&core, "viewer", OTHER_PASSWORD, &format!("127.0.0.{i}"))
            .await
            .unwrap();
    }
    assert!(
        core.state()
            .onvif_clients
            .iter()
            .any(|c| c.account == "admin" && c.source == nvr)
    );

    // One address hammers first: locked after 5 wrong passwords.
    let (mut refused, mut limited) = (0, 0);
    for _ in 0..5 {
        let r = onvif(&core, "admin", "wrong-guess-000", "127.0.0.9").await;
        assert!(matches!(r, Err(CoreError::BadCredentials { .. })), "{r:?}");
        refused += 1;
    }
    // The storm: wrong passwords for admin from 50 addresses, far past every limit.
    for round in 0..6 {
        for i in 10..60 {
            let from = format!("127.0.0.{i}");
            match onvif(&core, "admin", "wrong-guess-000", &from).await {
                Err(CoreError::BadCredentials { .. }) => refused += 1,
                Err(CoreError::RateLimited(_)) => limited += 1,
                other => panic!("round {round}: {other:?}"),
            }
        }
        // Meanwhile the NVR goes on, at once, every time (no clock moves here).
        for _ in 0..5 {
            onvif(&core, "admin", GOOD_PASSWORD, nvr).await.unwrap();
        }
    }
    assert!(limited > 200, "the storm was not slowed: {limited}");
    // The limits work, just not against the NVR: a newcomer with the right password is
    // slowed (the account-wide delay), the hammering address is locked, and the web
    // sign-in of a new address shares the account-wide counter.
    let r = onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.250").await;
    assert!(
        matches!(r, Err(CoreError::RateLimited(ra)) if !ra.locked),
        "{r:?}"
    );
    let r = onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.9").await;
    assert!(
        matches!(r, Err(CoreError::RateLimited(ra)) if ra.locked),
        "{r:?}"
    );
    assert!(matches!(
        core.login("admin", GOOD_PASSWORD, ip("127.0.0.251")).await,
        Err(CoreError::RateLimited(_))
    ));
    onvif(&core, "admin", GOOD_PASSWORD, nvr).await.unwrap();

    // A storm kept up for hours (each attempt waits out the delay, so every one counts)
    // never holds the NVR up either.
    for minute in 0..120 {
        cam.clock.advance(61_000);
        for i in 60..65 {
            let r = onvif(&core, "admin", "wrong-guess-001", &format!("127.0.0.{i}")).await;
            if matches!(r, Err(CoreError::BadCredentials { .. })) {
                refused += 1;
            }
        }
        onvif(&core, "admin", GOOD_PASSWORD, nvr)
            .await
            .unwrap_or_else(|e| panic!("minute {minute}: {e:?}"));
    }
    // Every failure is in the audit log; the NVR's successes are not, but for the first.
    assert!(refused > 100);
    let audit = core.audit();
    assert!(audit.len() < camkey_camera::state::AUDIT_MAX);
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.event == "onvif_auth_failed")
            .count(),
        refused
    );
    assert!(
        audit
            .iter()
            .filter(|e| e.event == "onvif_signed_in" && e.source.as_deref() == Some(nvr))
            .count()
            <= 1,
        "the NVR's sign-ins flooded the log"
    );
}

#[tokio::test]
async fn the_nvr_is_limited_on_its_own_and_unknown_disabled_or_off_accounts_answer_alike() {
    let cam = camera(true).await;
    let core = cam.core().clone();
    core.create_users(
        "admin",
        vec![
            user("off", OTHER_PASSWORD, Role::Operator),
            user("gone", OTHER_PASSWORD, Role::User),
        ],
        ip("127.0.0.1"),
    )
    .await
    .unwrap();
    core.set_onvif_access("off", false, None, ip("127.0.0.1"))
        .await
        .unwrap();
    // "gone" is disabled by a recovery (as the intruder's leftovers are).
    core.recover_with_answers(
        &["Marmaduke the tortoise".into()],
        GOOD_PASSWORD,
        ip("127.0.0.1"),
        None,
    )
    .await
    .unwrap();
    assert!(
        !core
            .users()
            .iter()
            .find(|u| u.name == "gone")
            .unwrap()
            .enabled
    );
    // Unknown, ONVIF off, disabled: each gets BadCredentials 4 times, then the lock, and
    // the closure never sees a real password.
    for (i, name) in ["nobody", "off", "gone"].iter().enumerate() {
        let from = format!("127.0.1.{i}");
        for n in 0..5 {
            let r = core
                .verify_onvif(name, ip(&from), |pw| {
                    assert_ne!(pw, OTHER_PASSWORD);
                    true
                })
                .await;
            match (n, r) {
                (0..4, Err(CoreError::BadCredentials { locked: None })) => {}
                (4, Err(CoreError::BadCredentials { locked: Some(l) })) if l.locked => {}
                (n, r) => panic!("{name} attempt {n}: {r:?}"),
            }
        }
        assert!(matches!(
            onvif(&core, name, OTHER_PASSWORD, &from).await,
            Err(CoreError::RateLimited(r)) if r.locked
        ));
    }
    // The NVR's own wrong passwords lock only the NVR (after the owner changed the
    // password and it still sends the old one), and the lock runs out.
    onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2")
        .await
        .unwrap();
    for _ in 0..5 {
        let _ = onvif(&core, "admin", "old-password-x", "127.0.0.2").await;
    }
    assert!(matches!(
        onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2").await,
        Err(CoreError::RateLimited(r)) if r.locked
    ));
    onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.3")
        .await
        .unwrap();
    cam.clock.advance(5 * 60_000 + 1);
    onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2")
        .await
        .unwrap();
}

#[tokio::test]
async fn accounts_are_created_changed_and_deleted_all_or_nothing() {
    let cam = camera(false).await;
    let core = cam.core().clone();
    let me = ip("127.0.0.1");
    // All or nothing: one bad entry, none made.
    for (bad, why) in [
        (user("Admin", OTHER_PASSWORD, Role::User), "exists"),
        (user("a b", OTHER_PASSWORD, Role::User), "name"),
        (user(&"x".repeat(33), OTHER_PASSWORD, Role::User), "name"),
        (user("weak", "password", Role::User), "policy"),
        (user("nvr", OTHER_PASSWORD, Role::User), "twice"),
    ] {
        let r = core
            .create_users(
                "admin",
                vec![user("nvr", OTHER_PASSWORD, Role::User), bad],
                me,
            )
            .await;
        match (why, &r) {
            ("exists" | "twice", Err(CoreError::UserExists(_)))
            | ("name", Err(CoreError::UserNameInvalid))
            | ("policy", Err(CoreError::Password(_))) => {}
            _ => panic!("{why}: {r:?}"),
        }
        assert_eq!(core.users().len(), 1, "{why}");
    }
    core.create_users(
        "admin",
        vec![
            user("nvr", OTHER_PASSWORD, Role::Operator),
            user("ha", THIRD_PASSWORD, Role::User),
        ],
        me,
    )
    .await
    .unwrap();
    let users = core.users();
    assert_eq!(users.len(), 3);
    assert!(users[1..].iter().all(|u| u.enabled && u.onvif));
    assert_eq!(events(&core, "user_created"), 2);
    // Only an Administrator may manage accounts.
    assert!(matches!(
        core.create_users("nvr", vec![user("x1", THIRD_PASSWORD, Role::User)], me)
            .await,
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        core.delete_users("ha", &["nvr".into()], me),
        Err(CoreError::Forbidden)
    ));

    // Change: role and password; admin stays an Administrator.
    assert!(matches!(
        core.set_users("admin", vec![user("admin", "", Role::Operator)], me)
            .await,
        Err(CoreError::AdminFixed)
    ));
    assert!(matches!(
        core.set_users("admin", vec![user("nobody", "", Role::User)], me)
            .await,
        Err(CoreError::UnknownUser(_))
    ));
    let token = core.login("nvr", OTHER_PASSWORD, me).await.unwrap();
    core.set_users(
        "admin",
        vec![
            user("nvr", GOOD_PASSWORD.to_uppercase().as_str(), Role::User),
            user("ha", "", Role::Operator),
        ],
        me,
    )
    .await
    .unwrap();
    assert_eq!(
        core.session(&token),
        None,
        "a new password ends the sessions"
    );
    assert_eq!(core.role("ha"), Some(Role::Operator));
    onvif(&core, "nvr", &GOOD_PASSWORD.to_uppercase(), "127.0.0.4")
        .await
        .unwrap();
    assert_eq!(events(&core, "user_changed"), 2);

    // Delete: never admin; all or nothing.
    assert!(matches!(
        core.delete_users("admin", &["ha".into(), "admin".into()], me),
        Err(CoreError::AdminFixed)
    ));
    assert!(matches!(
        core.delete_users("admin", &["ha".into(), "nobody".into()], me),
        Err(CoreError::UnknownUser(_))
    ));
    assert_eq!(core.users().len(), 3);
    core.delete_users("admin", &["ha".into(), "nvr".into()], me)
        .unwrap();
    assert_eq!(core.users().len(), 1);
    assert!(
        core.state()
            .onvif_clients
            .iter()
            .all(|c| c.account == "admin")
    );
    assert_eq!(events(&core, "user_deleted"), 2);

    // At most MAX_ACCOUNTS accounts.
    let many: Vec<NewUser> = (0..camkey_camera::core::MAX_ACCOUNTS)
        .map(|i| user(&format!("cam{i}"), OTHER_PASSWORD, Role::User))
        .collect();
    assert!(matches!(
        core.create_users("admin", many.clone(), me).await,
        Err(CoreError::TooManyUsers)
    ));
    core.create_users("admin", many[1..].to_vec(), me)
        .await
        .unwrap();
    assert_eq!(core.users().len(), camkey_camera::core::MAX_ACCOUNTS);
}

/// docs/design.md §5: the wall clock may only shorten a validity. An NVR that moves the
/// camera's clock back a day neither extends a QR challenge nor lifts a lock.
#[tokio::test]
async fn moving_the_wall_clock_back_neither_extends_a_challenge_nor_lifts_a_lock() {
    let cam = camera(false).await;
    let core = cam.core().clone();
    let day = 24 * 3_600_000_i64;
    core.set_wall_clock_utc(1_790_000_000_000, ip("127.0.0.5"))
        .unwrap();
    assert_eq!(core.state().time.source.as_deref(), Some("nvr"));
    assert_eq!(core.clock().wall_ms(), 1_790_000_000_000);
    assert!(core.set_wall_clock_utc(0, ip("127.0.0.5")).is_err());

    // A lock, and a challenge.
    for _ in 0..5 {
        let _ = core
            .login("admin", "wrong-password-1", ip("127.0.0.9"))
            .await;
    }
    assert!(locked(&core, "127.0.0.9").await);
    let qr = core.qr_challenge(ip("127.0.0.9")).unwrap();

    // Back a day: the lock stays, the challenge's life is what it was.
    core.set_wall_clock_utc(core.clock().wall_ms() - day, ip("127.0.0.5"))
        .unwrap();
    assert!(locked(&core, "127.0.0.9").await);
    let again = core.qr_challenge(ip("127.0.0.9")).unwrap();
    assert_eq!(again.text, qr.text);
    assert_eq!(again.expires_in, qr.expires_in);

    // The lock ends on the elapsed clock, and so does the challenge, whatever the wall
    // clock says (moved back again, a week this time).
    cam.clock.advance(5 * 60_000 + 1);
    assert!(!locked(&core, "127.0.0.9").await);
    core.set_wall_clock_utc(core.clock().wall_ms() - 7 * day, ip("127.0.0.5"))
        .unwrap();
    cam.clock.advance(qr.expires_in * 1000 + 1);
    let later = core.qr_challenge(ip("127.0.0.9")).unwrap();
    assert_ne!(later.text, qr.text, "the challenge outlived its life");
    assert_eq!(events(&core, "time_set"), 3);
}

#[tokio::test]
async fn discovery_mode_persists_and_factory_defaults_reset_it() {
    let mut cam = camera(false).await;
    let core = cam.core().clone();
    let me = ip("127.0.0.1");
    assert!(core.discoverable());
    core.set_discoverable(false, "admin", me).unwrap();
    assert!(!core.discoverable());
    assert_eq!(events(&core, "discovery_mode"), 1);
    cam.power_cycle().await;
    let core = cam.core().clone();
    assert!(!core.discoverable(), "lost at reboot");
    core.create_users(
        "admin",
        vec![user("viewer", OTHER_PASSWORD, Role::User)],
        me,
    )
    .await
    .unwrap();
    assert!(matches!(
        core.set_discoverable(true, "viewer", me),
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        core.factory_default(true, "viewer", me),
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        core.request_reboot("viewer", me),
        Err(CoreError::Forbidden)
    ));
    assert!(matches!(
        core.set_discoverable(true, "nobody", me),
        Err(CoreError::Forbidden)
    ));
    core.factory_reset("button").unwrap();
    assert!(core.discoverable());
}

async fn locked(core: &Core, from: &str) -> bool {
    matches!(
        core.login("admin", GOOD_PASSWORD, ip(from)).await,
        Err(CoreError::RateLimited(r)) if r.locked
    )
}

async fn reboot_signalled(core: &Arc<Core>) -> bool {
    tokio::time::timeout(Duration::from_secs(5), core.reboot_requested().notified())
        .await
        .is_ok()
}

#[tokio::test]
async fn soft_factory_defaults_keep_the_network_and_hard_ones_wipe_it_and_both_reboot() {
    for hard in [false, true] {
        let cam = TestCamera::start("IPC4K15").await;
        let network = NetworkSettings::Static {
            address: "192.168.1.20/24".into(),
            gateway: "192.168.1.1".into(),
            dns: None,
        };
        let mut req = init_request(true);
        req.network = Some(network.clone());
        let core = cam.core().clone();
        core.init(req, ip("127.0.0.1")).await.unwrap();
        core.set_discoverable(false, "admin", ip("127.0.0.1"))
            .unwrap();
        onvif(&core, "admin", GOOD_PASSWORD, "127.0.0.2")
            .await
            .unwrap();
        core.factory_default(hard, "admin", ip("127.0.0.2"))
            .unwrap();
        let s = core.state();
        assert!(!s.initialized() && s.accounts.is_empty() && s.onvif_clients.is_empty());
        assert!(s.discoverable && s.questions.is_empty());
        assert_eq!(s.network == network, !hard, "hard {hard}");
        let last = s.audit.back().unwrap();
        assert_eq!(last.event, "factory_reset");
        assert_eq!(last.user.as_deref(), Some("admin"));
        assert!(last.detail.contains(if hard { "(hard)" } else { "(soft)" }));
        assert!(reboot_signalled(&core).await, "no reboot asked for");
    }
}

#[tokio::test]
async fn a_reboot_request_is_audited_and_signalled() {
    let cam = camera(false).await;
    let core = cam.core().clone();
    core.request_reboot("admin", ip("127.0.0.7")).unwrap();
    let last = core.audit().pop().unwrap();
    assert_eq!(last.event, "reboot_requested");
    assert_eq!(last.source.as_deref(), Some("127.0.0.7"));
    assert!(reboot_signalled(&core).await);
}

/// The HTTP handlers of the ONVIF service hold these futures across their awaits: they
/// must be `Send` (checked at compile time).
#[allow(dead_code)]
fn core_futures_are_send(core: &Core, src: IpAddr) {
    fn send<T: Send>(_: T) {}
    send(core.verify_onvif("admin", src, |pw| pw.is_empty()));
    send(core.set_onvif_access("admin", true, Some("x"), src));
    send(core.create_users("admin", vec![], src));
    send(core.set_users("admin", vec![], src));
}
