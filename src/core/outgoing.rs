//! Requests the core sends (qualify OPTIONS, outbound REGISTER, ... are built on this):
//! each runs through a client transaction to its final response; a 401 or 407 is answered
//! with the request's `outbound_auth` objects (RFC 3261 22.2, RFC 7616) and the request
//! sent again with the next CSeq on a new branch, until a final answer, a repeated
//! challenge (the credentials are wrong) or nothing to answer it with.

use bytes::Bytes;

use crate::auth::{ChallengeKind, ClientAuth, DigestChallenge};
use crate::config::types::Auth;
use crate::sip::{CSeq, HeaderName, Request, Response};
use crate::transport::Flow;
use crate::tsx::ClientKey;
use foldhash::HashMap;

/// Identifies a request sent with [`super::Core::send_request`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// How a sent request ended.
#[derive(Debug)]
pub enum Outcome {
    /// A final response (after any authentication rounds).
    Response(Box<Response>),
    /// No final response in time (Timer F or B).
    Timeout,
    /// The transport could not send it.
    TransportError,
    /// A 401/407 could not be answered: no usable outbound auth, or the credentials were
    /// refused (challenged again). Carries the last challenge response.
    AuthFailed {
        /// Why, for the log.
        reason: String,
        /// The 401/407.
        response: Box<Response>,
    },
}

/// Something the core's user (a usage such as qualify or outbound registration) is told.
#[derive(Debug)]
pub enum CoreEvent {
    /// A request sent with [`super::Core::send_request`] ended.
    Completed {
        /// Which request.
        id: RequestId,
        /// How.
        outcome: Outcome,
    },
    /// A contact's qualify status changed.
    ContactStatus(super::StatusChange),
    /// Something happened to an INVITE session (for the PBX).
    Session(crate::session::SessionEvent),
}

/// A request in flight.
pub(super) struct Pending {
    pub id: RequestId,
    pub flow: Flow,
    /// The request as last sent.
    pub request: Request,
    pub auths: Vec<Auth>,
    pub client_auth: ClientAuth,
}

/// Requests in flight by client transaction, and the transaction of each request id.
/// A session's INVITE stays here while its transaction lives (64·T1 once answered), so
/// thousands are in flight on a busy queue: finding one by id must not be a scan.
#[derive(Default)]
pub(super) struct InFlight {
    by_key: HashMap<ClientKey, Pending>,
    by_id: HashMap<RequestId, ClientKey>,
}

impl InFlight {
    pub fn insert(&mut self, key: ClientKey, pending: Pending) {
        self.by_id.insert(pending.id, key.clone());
        self.by_key.insert(key, pending);
    }

    pub fn get(&self, key: &ClientKey) -> Option<&Pending> {
        self.by_key.get(key)
    }

    pub fn get_mut(&mut self, key: &ClientKey) -> Option<&mut Pending> {
        self.by_key.get_mut(key)
    }

    pub fn remove(&mut self, key: &ClientKey) -> Option<Pending> {
        let p = self.by_key.remove(key)?;
        if self.by_id.get(&p.id) == Some(key) {
            self.by_id.remove(&p.id);
        }
        Some(p)
    }

    /// The client transaction of request `id`.
    pub fn key_of(&self, id: RequestId) -> Option<&ClientKey> {
        self.by_id.get(&id)
    }

    /// Request `id` as last sent.
    pub fn request(&self, id: RequestId) -> Option<&Request> {
        self.by_key.get(self.by_id.get(&id)?).map(|p| &p.request)
    }
}

/// What to do with a final response.
pub(super) enum Next {
    /// Send this request again (with credentials).
    Retry(Request),
    /// Done.
    Done(Outcome),
}

impl Pending {
    /// Decides on a final response: answer a challenge, or report the outcome.
    pub fn on_final(&mut self, response: Response, new_branch: &str) -> Next {
        let status = response.status.code();
        let Some(kind) = ChallengeKind::from_status(status) else {
            return Next::Done(Outcome::Response(Box::new(response)));
        };
        let challenges: Vec<DigestChallenge> = response
            .headers
            .get_all(&HeaderName::new(kind.challenge_header()))
            .filter_map(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .collect();
        let auths: Vec<&Auth> = self.auths.iter().collect();
        let method = self.request.method.as_str().to_string();
        let uri = self.request.uri.to_string();
        let answers = match self
            .client_auth
            .respond(kind, &challenges, &auths, &method, &uri)
        {
            Ok(a) => a,
            Err(e) => {
                return Next::Done(Outcome::AuthFailed {
                    reason: e.to_string(),
                    response: Box::new(response),
                });
            }
        };
        let mut next = self.request.clone();
        // RFC 3261 22.2: same Call-ID, From and To; CSeq increased; a new branch.
        let cseq = next.headers.cseq().map(|c| c.seq).unwrap_or(0);
        next.headers.replace(
            HeaderName::CSeq,
            CSeq {
                seq: cseq.saturating_add(1),
                method: next.method.clone(),
            }
            .to_string(),
        );
        if let Ok(mut via) = next.headers.top_via() {
            via.params.set("branch", Some(new_branch));
            next.headers.replace_first(HeaderName::Via, via.to_string());
        }
        for name in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
            next.headers.remove(&name);
        }
        // Before Content-Length, which stays last.
        let length = next.headers.remove_first(&HeaderName::ContentLength);
        for a in answers {
            next.headers.push(
                HeaderName::new(a.name()),
                Bytes::from(a.credentials.to_string()),
            );
        }
        if let Some(length) = length {
            next.headers.push(HeaderName::ContentLength, length);
        }
        Next::Retry(next)
    }
}
