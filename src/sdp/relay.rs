//! Carrying a stream's extra attributes from one leg's SDP to the other's: everything
//! that is not about codecs, transport or keying, which each leg negotiates for itself.

use super::model::Media;

/// Attributes each leg negotiates itself, never copied (`ice-*` by prefix).
const NEGOTIATED: &[&str] = &[
    "rtpmap",
    "fmtp",
    "ptime",
    "maxptime",
    "rtcp",
    "rtcp-mux",
    "sendrecv",
    "sendonly",
    "recvonly",
    "inactive",
    "candidate",
    "end-of-candidates",
    "crypto",
    "fingerprint",
    "setup",
    "mid",
    "ssrc",
];

/// Whether an attribute belongs to codec, transport, direction or keying negotiation.
pub fn is_negotiated_attribute(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("ice-") || NEGOTIATED.contains(&lower.as_str())
}

/// Appends to `to` the attributes of `from` that are not negotiated per leg, in order.
pub fn copy_extra_attributes(from: &Media, to: &mut Media) {
    for a in from.fields.attributes() {
        if !is_negotiated_attribute(&a.name) {
            to.fields.push_attribute(a.clone());
        }
    }
}
