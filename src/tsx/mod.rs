//! The transaction layer's state machines (RFC 3261 section 17, RFC 6026).
//!
//! Sans-IO: no sockets, no clock, no runtime. Every input carries the time (`now`), outputs
//! are values. After every `handle_*` or command call, the caller drains `poll_output` (in
//! order: messages to transmit and events for the transaction user) and re-arms one timer at
//! `poll_timeout`, calling `handle_timeout(now)` when it fires — the quinn/str0m run loop.
//!
//! The machines are generic over the message type ([`TsxMessage`]): they need only a
//! response's status code and, for INVITE client transactions, the ACK of a non-2xx final
//! response. [`TsxLayer`] is the table on top, for [`crate::sip::Message`]: it matches
//! messages to transactions (branch keys, the RFC 2543 fallback), creates server transactions,
//! and answers merged requests (482) and spent Max-Forwards (483) itself.

mod client;
mod deadlines;
pub(crate) use deadlines::Deadlines;
mod server;
mod table;
mod timer;

use std::fmt::Debug;

pub use client::{ClientState, ClientTsx};
pub use server::{ServerState, ServerTsx};
pub use table::{ClientKey, Incoming, LayerOutput, ServerKey, TsxLayer, TsxRef};
pub use timer::{TimerConfig, TimerId, TimerTable};

pub(crate) use table::hex16;

/// What the state machines need of a SIP message.
pub trait TsxMessage: Clone + Debug {
    /// The status code of a response; `None` for a request.
    fn status(&self) -> Option<u16>;
    /// The ACK for a non-2xx final `response` to the INVITE `request` (RFC 3261 17.1.1.3:
    /// same Request-URI, Call-ID, From, CSeq number, top Via; To from the response).
    fn ack_for(request: &Self, response: &Self) -> Self;
}

/// INVITE transactions and all others follow different machines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsxKind {
    /// INVITE.
    Invite,
    /// Every other method (ACK never creates a transaction).
    NonInvite,
}

/// What a transaction asks of its caller.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub enum Output<M> {
    /// Send this message over the transaction's transport to its peer.
    Transmit(M),
    /// Tell the transaction user.
    Event(TsxEvent<M>),
}

/// Events for the transaction user.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TsxEvent<M> {
    /// A response for a client transaction (provisional or final; 2xx retransmissions too).
    Response(M),
    /// The ACK of a 2xx arrived at a server INVITE transaction: it belongs to the dialog.
    Ack(M),
    /// No final response in time (Timer B or F), or no ACK in time (Timer H).
    Timeout,
    /// The transport could not send.
    TransportError,
    /// The transaction ended; its key can be forgotten.
    Terminated,
}

#[cfg(test)]
mod tests;
