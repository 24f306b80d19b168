//! SDP (RFC 8866) and the offer/answer model (RFC 3264) (sans-IO).
//!
//! This module performs no I/O and reads no clock: bodies come in as bytes, SDPs go out as
//! bytes, randomness (the `o=` session id) is passed in.
//!
//! Main types:
//! - [`Sdp`]: parsed body ([`Sdp::parse`], [`Sdp::to_bytes`]); every line is kept in order so
//!   unknown lines and attributes are re-emitted unchanged. Typed accessors:
//!   [`Media::rtpmap`], [`Media::fmtp`], [`Media::rtcp`], [`Sdp::ptime`],
//!   [`Sdp::maxptime`], [`Sdp::direction`], [`Sdp::effective_direction`] (`c=0.0.0.0` is
//!   hold), [`Sdp::connection`], [`Sdp::remote_rtp`], [`Sdp::remote_rtcp`],
//!   [`Sdp::is_hold`]; rewriting: [`Sdp::set_address`], [`Sdp::set_port`].
//! - [`SdpError`]: malformed body (answer 400); [`OfferAnswerError`]: nothing acceptable
//!   (answer 488) or a bad answer to our offer (end the session).
//! - [`Codec`], [`AllowedCodec`]: Asterisk format names ↔ RTP encodings;
//!   [`codec::allowed`] turns an endpoint's `allow` into the ordered codec list.
//! - [`Answerer`] → [`Answer`] (`sdp` + one [`Negotiated`] per accepted stream);
//!   [`Offerer`]; [`negotiate`] (our offer + their answer → [`Negotiated`]);
//!   [`outgoing_codecs`] (B2BUA outgoing leg, `outgoing_call_offer_pref`).
//! - [`Origin`]: per-leg `o=`/`s=`, version bumped only when the body changed.
//! - [`relay::copy_extra_attributes`]: carry non-negotiated attributes across legs.
//!
//! Call sequence of the B2BUA (media anchored: each leg sees our address and ports):
//! 1. Incoming INVITE with offer: `let offer = Sdp::parse(body)?` (error → 400), then
//!    `Answerer::for_endpoint(&caller_ep, our_rtp_a).answer(&offer)` (error → 488);
//!    keep `answer.streams[0]` for the media relay.
//! 2. Outgoing leg: `outgoing_codecs(Some(&offer), &codec::allowed(&callee_ep.allow),
//!    callee_ep.outgoing_call_offer_pref)?` into an [`Offerer`] (telephone-event from
//!    [`offered_telephone_event`] or 101), `offerer.offer()?`, then
//!    `origin_b.stamp(&mut sdp)` and send.
//! 3. Callee's 200 answer: `negotiate(&our_offer, &Sdp::parse(body)?, use_ptime)?` →
//!    [`Negotiated`] for leg B (error → ACK then BYE).
//! 4. Send the answer of step 1 to the caller in its 200: `origin_a.stamp(&mut answer.sdp)`
//!    (same bytes and version on every retransmission and unchanged refresh).
//!
//! For `media_address` or a NAT external media address call [`Sdp::set_address`] before
//! [`Origin::stamp`].

pub mod codec;
mod error;
mod model;
mod offer_answer;
mod origin;
mod parse;
pub mod relay;

pub use codec::{AllowedCodec, Codec, Encoding, MediaKind};
pub use error::{OfferAnswerError, SdpError};
pub use model::{
    Attribute, Connection, Direction, Field, Fields, Media, OriginLine, Rtcp, RtpMap, Sdp,
};
pub use offer_answer::{
    Answer, Answerer, Negotiated, Offerer, PayloadCodec, TelephoneEvent, negotiate,
    offered_telephone_event, outgoing_codecs, uses_telephone_event,
};
pub use origin::Origin;
pub use parse::{MAX_FORMATS, MAX_MEDIA, MAX_SDP_LEN, parse};

#[cfg(test)]
mod tests;

#[cfg(test)]
#[path = "offer_answer_tests.rs"]
mod offer_answer_tests;
