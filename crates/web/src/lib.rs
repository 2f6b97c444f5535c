//! # camkey-web
//!
//! The web layer the camera and the vendor's web parts share.
//!
//! # Layout
//! - [`client`]: who the client is (trusted proxies, `Forwarded`), and the source keys
//!   limits count (IPv6 by /64).
//! - [`render`]: an askama page as a response.
//! - [`site`]: the layers every page of the vendor's site gets.

pub mod client;
pub mod render;
pub mod site;
