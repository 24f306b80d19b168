//! The `o=` and `s=` of the SDPs one dialog leg sends, and the version rule of RFC 3264
//! section 8: each SDP we send carries the previous version + 1 when its content changed,
//! and the same version when it did not (a 200 retransmission, a session refresh).

use super::model::Sdp;
use crate::config::types::Endpoint;

/// The origin state of one dialog leg.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    username: String,
    session_name: String,
    session_id: u64,
    version: u64,
    /// The last body stamped, to see whether the next one changed.
    last_sent: Option<bytes::Bytes>,
}

impl Origin {
    /// A new leg. `seed` (random, from the caller) becomes the session id and the first
    /// version; an empty `sdp_owner` or `sdp_session` becomes `-` as Asterisk does.
    pub fn new(seed: u64, sdp_owner: &str, sdp_session: &str) -> Self {
        // Kept below 2^63 so agents that read it as a signed 64-bit number cope.
        let id = seed & (u64::MAX >> 1);
        Origin {
            // o= fields hold no space; s= is one line.
            username: non_empty(sdp_owner, char::is_whitespace),
            session_name: non_empty(sdp_session, |c| c == '\r' || c == '\n'),
            session_id: id,
            version: id,
            last_sent: None,
        }
    }

    /// A new leg with an endpoint's `sdp_owner` and `sdp_session`.
    pub fn for_endpoint(seed: u64, endpoint: &Endpoint) -> Self {
        Origin::new(seed, &endpoint.sdp_owner, &endpoint.sdp_session)
    }

    /// The session id.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The version of the last SDP stamped (the first one before any).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Writes username, session id, version and `s=` into an SDP about to be sent,
    /// incrementing the version when the body differs from the previous one sent
    /// (addresses included: call it after any NAT rewriting). Returns the body to send
    /// (the comparison needed it written out anyway).
    pub fn stamp(&mut self, sdp: &mut Sdp) -> bytes::Bytes {
        sdp.origin.username.clone_from(&self.username);
        sdp.origin.session_id = self.session_id.to_string();
        sdp.session_name.clone_from(&self.session_name);
        sdp.origin.version = self.version.to_string();
        let mut body = bytes::Bytes::from(sdp.to_bytes());
        if self.last_sent.as_ref().is_some_and(|last| *last != body) {
            self.version = self.version.wrapping_add(1);
            sdp.origin.version = self.version.to_string();
            body = bytes::Bytes::from(sdp.to_bytes());
        }
        self.last_sent = Some(body.clone());
        body
    }
}

/// The text with characters it may not hold replaced by `_`; `-` when empty.
fn non_empty(text: &str, bad: fn(char) -> bool) -> String {
    let text = text.trim();
    if text.is_empty() {
        "-".into()
    } else {
        text.replace(bad, "_")
    }
}
