//! The SIP message layer (RFC 3261 7, 19, 20, 25): parse, typed header views, URIs,
//! serialise, stream framing.
//!
//! Sans-IO: this module performs no I/O and reads no clock. A received datagram or stream
//! frame becomes one [`bytes::Bytes`]; the parser keeps the header fields raw, in order, as
//! slices of that buffer ([`Headers`]), and typed views ([`Via`], [`CSeq`], [`NameAddr`]...)
//! are parsed on demand. Everything read from the wire is bounded ([`Limits`]) and every
//! error carries the status code to answer with ([`ParseError::status`]).

mod error;
mod framing;
pub mod header;
mod method;
mod msg;
mod name_addr;
mod param;
mod parse;
mod received;
mod reply;
mod status;
mod syntax;
pub(crate) use syntax::{owned_text, write_quoted};

/// The branch of a request built before its transaction exists; the core gives it the
/// real one (`core::set_branch`) when it sends the request.
pub const PENDING_BRANCH: &str = "z9hG4bKpending";
pub use syntax::{Dotted, ip_string};
mod uri;
mod validate;

pub use error::ParseError;
pub use framing::{Frame, frame, frame_with};
pub use header::typed::{CSeq, MediaType, RetryAfter};
pub use header::via::Via;
pub use header::{HeaderName, Headers};
pub use method::Method;
pub use msg::{Message, Request, Response};
pub use name_addr::{ContactList, NameAddr, tag_param};
pub use param::Params;
pub use parse::Limits;
pub use received::stamp_received;
pub use reply::{ack_for, response_bytes, response_to, response_with, salvage_response, top_via};
pub use status::StatusCode;
pub(crate) use syntax::{push_decimal, push_hex};
pub use uri::{Host, SipUri, TelUri, Uri};
pub use validate::{Rejection, check_request, check_response, validate_request, validate_response};
