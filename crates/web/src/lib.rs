//! # camkey-web
//!
//! The web layer every camkey HTTP front shares: the camera's pages and REST API now, the
//! vendor's reset page, Tech Support Form and staff portal next (docs/design.md §3 and §4).
//! Each front keeps its routes, its words and its state; what must be the same everywhere
//! — the headers, the cross-site rule, CSRF tokens, cookie attributes, the JSON error
//! shape and who the client is — lives here once.
//!
//! It depends on nothing the camera does not already use, so the camera-only build does
//! not grow.
//!
//! # Layout
//! - [`headers`]: the security headers on every response (CSP and the rest).
//! - [`origin`]: the one same-origin rule for state-changing requests (Origin,
//!   `Sec-Fetch-Site`, Host).
//! - [`csrf`]: CSRF tokens (random per session, or bound to a session by a key) and their
//!   constant-time check.
//! - [`cookies`]: reading cookies and the bearer token, building `Set-Cookie` values.
//! - [`error`]: the one JSON error (`{"error": {"code", "message"}}`, `Retry-After`).
//! - [`render`]: askama templates as HTML responses, and static files.
//! - [`client`]: who the client is (trusted proxies, `Forwarded`) and the key per-source
//!   limits count (IPv6 by its /64).
//! - [`site`]: the vendor's site: every layer above on the reset service's and the desk's
//!   routes.

pub mod client;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod headers;
pub mod origin;
pub mod render;
pub mod site;
