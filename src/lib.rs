//! pjsipd: a SIP server daemon for PBXs, configured with Asterisk's `pjsip.conf`.
//!
//! Layers, each knowing only the one below (see `docs/architecture.md`):
//! - [`sip`]: the SIP message layer: parse, typed header views, URIs, serialise, stream framing
//!   (sans-IO).
//! - [`identify`]: which endpoint a request comes from, with a "why no match" trace (sans-IO).
//! - [`tsx`]: the RFC 3261 transaction state machines on virtual time (sans-IO).
//! - [`acl`]: host-based access control: `permit`/`deny` rules, named ACLs of `acl.conf`, the
//!   checks of `type=acl` objects and endpoints (sans-IO).
//! - [`auth`]: digest authentication computations, challenges and stateless nonces (sans-IO).
//! - [`config`]: Asterisk-syntax files read into typed objects (sans-IO apart from reading files).
//! - [`dialplan`]: `extensions.conf` read into contexts: which extension a number reaches
//!   (sans-IO).
//! - [`distributor`]: parses each received message once, answers what needs no state and
//!   picks the serialized queue for the rest (sans-IO).
//! - [`core`]: what happens to a received message: validation, transactions, identification,
//!   authentication, usages (sans-IO).
//! - [`outreg`]: outbound registration (`type=registration`) state machines (sans-IO).
//! - [`sorcery`]: the live object store: transactions, indexes, observers.
//! - [`cli`]: operator commands, rendered from a store snapshot (pure functions).
//! - [`transport`]: the SIP sockets (UDP, TCP, TLS, WS, WSS) feeding the distributor (async
//!   shell).
//! - [`runtime`]: the serialized queues, each owning one core (async shell).
//! - [`control`], [`daemon`]: the async shell: control socket, signals, systemd.

#![warn(missing_docs)]

pub mod acl;
pub mod auth;
pub mod cli;
pub mod config;
pub mod control;
pub mod core;
pub mod daemon;
pub mod dialog;
pub mod dialplan;
pub mod distributor;
pub mod identify;
pub mod location;
pub mod media;
pub mod outreg;
pub mod pbx;
pub mod registrar;
pub mod runtime;
pub mod sdp;
pub mod session;
pub mod sip;
pub mod sorcery;
#[cfg(test)]
mod testing;
pub mod transport;
pub mod tsx;
