//! The NVR's HTTP front: the JSON API of docs/design.md §4 under `/api`, and its page.
//!
//! Everything goes through [`camkey_web::site::site`]: security headers, the same-origin
//! rule, the body limit and the client address; errors are [`WebError`]s
//! (`{"error": {"code", "message"}}`, `Retry-After` on 429). The admin signs in with
//! `POST /api/login` and sends the token as `Authorization: Bearer TOKEN`; there is no
//! cookie, so a forged cross-site request carries no credential. Sign-in failures are
//! limited per source ([`crate::store::limits`]); revealing a camera's password asks for
//! the admin's password again under the same limits, and is audited.
//!
//! # Layout
//! - [`api`]: the JSON handlers.
//! - [`page`]: the page (askama) and its script.

pub mod api;
pub mod page;

use crate::adopt::Adopter;
use crate::link::CameraLink;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use camkey_web::client::TrustedProxies;
use camkey_web::error::WebError;
use rand::RngCore;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long a sign-in lasts, on the elapsed clock.
pub const SESSION_MS: u64 = 12 * 3_600_000;
/// Most live sessions (the oldest goes first).
pub const MAX_SESSIONS: usize = 64;

/// The front's state.
pub struct Nvr<L> {
    adopter: Arc<Adopter<L>>,
    sessions: Mutex<HashMap<String, Session>>,
    hasher: camkey_passwords::Hasher,
}

#[derive(Debug, Clone)]
struct Session {
    username: String,
    expires_ms: u64,
}

impl<L: CameraLink> Nvr<L> {
    /// The front over an adoption engine.
    pub fn new(adopter: Arc<Adopter<L>>) -> Arc<Self> {
        Arc::new(Nvr {
            adopter,
            sessions: Mutex::new(HashMap::new()),
            hasher: camkey_passwords::Hasher::default(),
        })
    }

    /// The adoption engine.
    pub fn adopter(&self) -> &Arc<Adopter<L>> {
        &self.adopter
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_session(&self, username: &str) -> String {
        let mut raw = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut raw);
        let token = data_encoding::BASE64URL_NOPAD.encode(&raw);
        let now = self.adopter.store().clock().elapsed_ms();
        let mut s = self.sessions();
        s.retain(|_, v| v.expires_ms > now);
        if s.len() >= MAX_SESSIONS
            && let Some(oldest) = s
                .iter()
                .min_by_key(|(_, v)| v.expires_ms)
                .map(|(k, _)| k.clone())
        {
            s.remove(&oldest);
        }
        s.insert(
            token.clone(),
            Session {
                username: username.into(),
                expires_ms: now + SESSION_MS,
            },
        );
        token
    }

    /// The signed-in admin's name, from the bearer token.
    fn admin(&self, headers: &HeaderMap) -> Result<String, WebError> {
        let now = self.adopter.store().clock().elapsed_ms();
        camkey_web::cookies::bearer(headers)
            .and_then(|t| self.sessions().get(t).cloned())
            .filter(|s| s.expires_ms > now)
            .map(|s| s.username)
            .ok_or_else(|| {
                WebError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "Sign in to the NVR first.",
                )
            })
    }

    /// Checks the admin's password from `source`, under the per-source limits; `Ok` with
    /// the user name.
    async fn check_password(
        &self,
        username: Option<&str>,
        password: &str,
        source: &str,
    ) -> Result<String, WebError> {
        let store = self.adopter.store();
        let _turn = self.hasher.turn().await;
        let now = store.clock().elapsed_ms();
        let (admin, limited) = store.read(|s| (s.admin.clone(), s.limits.check(source, now)));
        if let Err(wait) = limited {
            return Err(WebError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many wrong passwords from this address: wait and try again.",
            )
            .with_retry_after(wait));
        }
        let phc = admin
            .as_ref()
            .map(|a| a.hash.clone())
            .unwrap_or_else(|| camkey_passwords::dummy_hash().to_string());
        let name_ok = match (&admin, username) {
            (Some(a), Some(u)) => a.username == u,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let ok = self.hasher.verify_in_turn(password.into(), phc).await && name_ok;
        let source = source.to_string();
        store
            .update(|s, _| {
                if ok {
                    s.limits.success(&source);
                } else {
                    s.limits.failure(&source, now);
                }
                Ok::<_, crate::store::Error>(())
            })
            .map_err(|e| WebError::internal(&e))?;
        match admin {
            Some(a) if ok => Ok(a.username),
            _ => Err(WebError::new(
                StatusCode::UNAUTHORIZED,
                "wrong_password",
                "The user name or password is wrong.",
            )),
        }
    }
}

/// The whole site: the API under `/api`, the page at `/`.
pub fn router<L: CameraLink>(nvr: Arc<Nvr<L>>, proxies: Arc<TrustedProxies>) -> Router {
    let routes = Router::new()
        .nest("/api", api::routes())
        .merge(page::routes())
        .with_state(nvr);
    camkey_web::site::site(routes, proxies)
}

/// Serves the site on `listener` until the task is dropped.
pub async fn serve<L: CameraLink>(
    listener: tokio::net::TcpListener,
    nvr: Arc<Nvr<L>>,
) -> std::io::Result<()> {
    let app = router(nvr, Arc::new(TrustedProxies::default()));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ChannelState;
    use crate::testlink::{FakeCam, Rig, addr, rig};
    use serde_json::{Value, json};

    const ADMIN_PW: &str = "installer-chosen-passphrase";

    struct Site {
        base: String,
        http: reqwest::Client,
        r: Rig,
        task: tokio::task::JoinHandle<std::io::Result<()>>,
    }

    async fn site(ports: u8) -> Site {
        let r = rig(ports);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(serve(listener, Nvr::new(r.nvr.clone())));
        let _ = rustls::crypto::ring::default_provider().install_default();
        Site {
            base,
            http: reqwest::Client::new(),
            r,
            task,
        }
    }

    impl Site {
        async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
            let mut req = self
                .http
                .post(format!("{}/api{path}", self.base))
                .json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.json().await.unwrap_or(Value::Null))
        }

        async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
            let mut req = self.http.get(format!("{}{path}", self.base));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap()
        }

        async fn audit(&self, token: &str) -> Value {
            self.get("/api/audit", Some(token))
                .await
                .json()
                .await
                .unwrap()
        }

        async fn login(&self) -> String {
            let (status, body) = self
                .post(
                    "/login",
                    None,
                    json!({"username": "admin", "password": ADMIN_PW}),
                )
                .await;
            assert_eq!(status, 200, "{body}");
            body["token"].as_str().unwrap().to_string()
        }
    }

    #[tokio::test]
    async fn channels_need_a_sign_in_and_list_states() {
        let s = site(2).await;
        s.r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        s.r.switch.plug(1, Some(addr(1))).unwrap();
        s.r.nvr.tick_all().await;
        let resp = s.get("/api/channels", None).await;
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        let token = s.login().await;
        let list: Value = s
            .get("/api/channels", Some(&token))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list[0]["port"], 1);
        assert_eq!(list[0]["serial"], "IPC4K15-A1");
        assert_eq!(list[0]["state"], "adopted");
        assert_eq!(list[0]["address"], addr(1).to_string());
        let snap = s.get("/api/channels/1/snapshot", Some(&token)).await;
        assert_eq!(snap.headers()["content-type"], "image/jpeg");
        let page = s.get("/", None).await;
        assert_eq!(page.status(), 200);
        assert!(page.headers().contains_key("content-security-policy"));
        let text = page.text().await.unwrap();
        assert!(text.contains("waiting for your approval") && text.contains("2 PoE ports"));
        s.task.abort();
    }

    #[tokio::test]
    async fn reveal_needs_the_admin_password_is_audited_and_signs_into_the_camera() {
        let s = site(1).await;
        s.r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        s.r.switch.plug(1, Some(addr(1))).unwrap();
        s.r.nvr.tick_all().await;
        let token = s.login().await;
        let (status, body) = s
            .post(
                "/channels/1/reveal",
                Some(&token),
                json!({"password": "not-it"}),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("wrong_password"))
        );
        let (status, _) = s
            .post("/channels/1/reveal", None, json!({"password": ADMIN_PW}))
            .await;
        assert_eq!(status, 401, "a token is needed too");
        let (status, body) = s
            .post(
                "/channels/1/reveal",
                Some(&token),
                json!({"password": ADMIN_PW}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["username"], "admin");
        let cam = s.r.link.get(addr(1));
        assert_eq!(body["password"].as_str(), cam.password.as_deref());
        let audit = s.audit(&token).await;
        assert!(
            audit
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"] == "reveal")
        );
        assert!(!audit.to_string().contains(cam.password.as_deref().unwrap()));
        // Export: every password the NVR holds, after the admin's password again.
        let (status, _) = s
            .post("/export", Some(&token), json!({"password": "not-it"}))
            .await;
        assert_eq!(status, 401);
        let (status, _) = s.post("/export", None, json!({"password": ADMIN_PW})).await;
        assert_eq!(status, 401);
        let (status, body) = s
            .post("/export", Some(&token), json!({"password": ADMIN_PW}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body[0]["port"], 1);
        assert_eq!(body[0]["serial"], "IPC4K15-A1");
        assert_eq!(body[0]["password"].as_str(), cam.password.as_deref());
        let audit = s.audit(&token).await;
        assert!(
            audit
                .to_string()
                .contains("exported the passwords of 1 camera(s)")
        );
        s.task.abort();
    }

    #[tokio::test]
    async fn wrong_passwords_lock_one_source_out_with_retry_after() {
        let s = site(1).await;
        for _ in 0..crate::store::limits::MAX_FAILURES {
            let (status, _) = s
                .post(
                    "/login",
                    None,
                    json!({"username": "admin", "password": "nope"}),
                )
                .await;
            assert_eq!(status, 401);
        }
        let resp = s
            .http
            .post(format!("{}/api/login", s.base))
            .json(&json!({"username": "admin", "password": ADMIN_PW}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().contains_key("retry-after"));
        s.task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_lan_hosts_guessing_lock_only_themselves_out() {
        let s = site(1).await;
        let mut guessers = tokio::task::JoinSet::new();
        for host in 2..=21u8 {
            let base = s.base.clone();
            guessers.spawn(async move {
                let http = reqwest::Client::builder()
                    .local_address(std::net::IpAddr::from([127, 0, 0, host]))
                    .build()
                    .unwrap();
                let mut last = 0;
                for _ in 0..=crate::store::limits::MAX_FAILURES {
                    last = http
                        .post(format!("{base}/api/login"))
                        .json(&json!({"username": "admin", "password": "guess"}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                }
                last
            });
        }
        while let Some(last) = guessers.join_next().await {
            assert_eq!(last.unwrap(), 429, "each guessing host is locked out");
        }
        // The admin, from an address of their own, signs in at the first try.
        let token = s.login().await;
        assert!(!token.is_empty());
        s.task.abort();
    }

    #[tokio::test]
    async fn approve_setup_code_and_recovery_address() {
        let s = site(2).await;
        let token = s.login().await;
        s.r.link.put(addr(1), FakeCam::new("IPC4K15-A1"));
        s.r.switch.plug(1, Some(addr(1))).unwrap();
        s.r.nvr.tick_all().await;
        s.r.link.put(addr(2), FakeCam::new("IPC4K15-B2"));
        s.r.switch.plug(1, Some(addr(2))).unwrap();
        s.r.nvr.tick_all().await;
        let (status, body) = s
            .post("/channels/1/approve", Some(&token), json!(null))
            .await;
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some("adopted")),
            "{body}"
        );
        let (status, _) = s
            .post("/channels/1/approve", Some(&token), json!(null))
            .await;
        assert_eq!(status, 409);
        let (status, _) = s
            .post("/channels/9/approve", Some(&token), json!(null))
            .await;
        assert_eq!(status, 404);
        let (status, _) = s
            .post(
                "/ports/2/setup-code",
                Some(&token),
                json!({"code": "7K3M-Q9TX"}),
            )
            .await;
        assert_eq!(status, 204);
        assert_eq!(
            s.r.nvr.store().read(|st| st.setup_codes[&2].clone()),
            "7K3M-Q9TX"
        );
        let (status, _) = s
            .post(
                "/recovery-email",
                Some(&token),
                json!({"email": "new@example.com", "password": "wrong"}),
            )
            .await;
        assert_eq!(status, 401);
        let (status, _) = s
            .post(
                "/recovery-email",
                Some(&token),
                json!({"email": "new@example.com", "password": ADMIN_PW}),
            )
            .await;
        assert_eq!(status, 204);
        let admin = s.r.nvr.store().read(|st| st.admin.clone()).unwrap();
        assert_eq!(admin.recovery_email.as_deref(), Some("new@example.com"));
        // A camera set up elsewhere: the admin enters its password.
        s.r.link.put(
            addr(3),
            FakeCam {
                password: Some("owners-own-password-1".into()),
                ..FakeCam::new("IPC4K15-C3")
            },
        );
        s.r.switch.plug(2, Some(addr(3))).unwrap();
        assert_eq!(
            s.r.nvr.tick_port(2).await.unwrap(),
            ChannelState::AuthFailed
        );
        let (status, _) = s
            .post(
                "/channels/2/password",
                Some(&token),
                json!({"password": "guess"}),
            )
            .await;
        assert_eq!(status, 403);
        let (status, body) = s
            .post(
                "/channels/2/password",
                Some(&token),
                json!({"password": "owners-own-password-1"}),
            )
            .await;
        assert_eq!((status, body["state"].as_str()), (200, Some("adopted")));
        s.task.abort();
    }
}
