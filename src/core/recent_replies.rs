//! The answers lately given statelessly to REGISTERs over UDP, so that a retransmission
//! gets the same bytes.
//!
//! A REGISTER without credentials is answered without a transaction (see
//! `Core::handle_message`), but its answer is not a pure function of the request: a
//! challenge carries a fresh nonce (a clock and a counter in it), a 200 the contacts'
//! remaining expiry. When the answer is late (over T1) the client retransmits; a second,
//! different answer is a new response to a client that already moved on (SIPp calls it
//! an "unexpected message" and aborts the call; a phone may answer a stale challenge).
//! RFC 3261 17.2.2 wants the retransmission to get the answer already sent. Keeping the
//! answer's bytes for 64·T1 does that at a fraction of a transaction's cost, and the
//! count bound keeps a flood from making it unbounded: past it the oldest are forgotten,
//! and their retransmissions are answered anew, as before.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Answers kept at most by one queue (a few hundred bytes each).
pub(crate) const CAPACITY: usize = 4096;

/// A request's identity: a seeded hash of its Call-ID, From, CSeq and top Via (the
/// stateless To tag's hash), which retransmissions share.
pub(crate) type RequestHash = u64;

/// Answers by request, oldest first.
#[derive(Debug, Default)]
pub(crate) struct RecentReplies {
    answers: HashMap<RequestHash, Bytes>,
    /// When each entry was stored; entries all live equally long, so this is also the
    /// order in which they expire.
    order: VecDeque<(Instant, RequestHash)>,
}

impl RecentReplies {
    /// The answer given to `request` if it was given less than `lifetime` ago.
    pub(crate) fn get(
        &mut self,
        now: Instant,
        lifetime: Duration,
        request: RequestHash,
    ) -> Option<Bytes> {
        self.expire(now, lifetime);
        self.answers.get(&request).cloned()
    }

    /// Remembers `answer` as given to `request` at `now`.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        lifetime: Duration,
        request: RequestHash,
        answer: Bytes,
    ) {
        self.expire(now, lifetime);
        while self.order.len() >= CAPACITY {
            if let Some((_, oldest)) = self.order.pop_front() {
                self.answers.remove(&oldest);
            }
        }
        if self.answers.insert(request, answer).is_none() {
            self.order.push_back((now, request));
        }
    }

    /// How many answers are kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.answers.len()
    }

    fn expire(&mut self, now: Instant, lifetime: Duration) {
        while let Some(&(at, request)) = self.order.front() {
            if now.saturating_duration_since(at) < lifetime {
                break;
            }
            self.order.pop_front();
            self.answers.remove(&request);
        }
    }
}

#[cfg(test)]
#[path = "recent_replies_tests.rs"]
mod tests;
