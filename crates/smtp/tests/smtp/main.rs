//! Integration tests of camkey-smtp: a real server on 127.0.0.1 port 0, driven by real
//! clients (Python's smtplib, swaks) and by raw sockets that misbehave on purpose. One
//! test binary (each file in `tests/` would be a slow-to-link binary of its own).

#![allow(clippy::unwrap_used)]

mod attack;
mod clients;
mod common;
mod fuzz;
mod limits;
mod protocol;
