//! Digest authentication (RFC 2617, RFC 7616, RFC 8760; RFC 3261 section 22), as Asterisk's
//! `res_pjsip` does it.
//!
//! This module is sans-IO: it performs no I/O, spawns nothing and reads no clock. Time is
//! passed in as unix seconds (`now_unix_secs`); the only outside input is randomness from
//! the operating system for new nonce keys and client nonces, and both can be injected
//! ([`NonceKey::from_bytes`], [`ClientAuth::with_cnonce_source`]).
//!
//! - [`params`]: `Digest` header values ([`DigestChallenge`], [`DigestCredentials`]).
//! - [`digest`]: H(A1), H(A2), responses, constant-time comparison.
//! - [`nonce`]: stateless HMAC nonces ([`NonceKey`]).
//! - [`replay`]: bounded nonce-count replay table ([`NonceCounts`]).
//! - [`server`]: the UAS side ([`Verifier`]): challenges and [`Verdict`]s.
//! - [`client`]: the UAC side ([`ClientAuth`]): answers to 401/407.
//!
//! Credentials come from the `type=auth` configuration objects
//! ([`crate::config::types::Auth`]).

pub mod client;
pub mod digest;
pub mod error;
pub mod nonce;
pub mod params;
pub mod replay;
pub mod server;

pub use client::{AuthorizationHeader, ChallengeKind, ClientAuth};
pub use error::{AuthError, ParamsError};
pub use nonce::{NonceCheck, NonceKey};
pub use params::{Algorithm, DigestChallenge, DigestCredentials, Qop};
pub use replay::{NcCheck, NonceCounts};
pub use server::{DEFAULT_REALM, InvalidReason, Verdict, Verifier};
