//! SIP dialogs (RFC 3261 12): the state two user agents share once an INVITE is answered
//! (or answered provisionally with a tag), and the requests sent within it (sans-IO).
//!
//! A [`Dialog`] is made from the INVITE we received ([`Dialog::uas`]) or from the response
//! to the INVITE we sent ([`Dialog::uac`]). It keeps the Call-ID, both tags, both URIs,
//! both CSeq numbers, the remote target (the peer's Contact, refreshed by target-refresh
//! requests and their responses) and the route set (Record-Route, frozen once the dialog
//! is confirmed), and builds requests within the dialog ([`Dialog::request`]) as 12.2.1.1
//! says: Request-URI the remote target, Route the route set (loose routing; a strict first
//! route is moved into the Request-URI, 16.12.1.2), CSeq one more than the last.

#[cfg(test)]
mod tests;

use bytes::Bytes;

use crate::sip::{HeaderName, Method, NameAddr, Request, Response, Uri};

/// Why a dialog could not be made or a request built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DialogError {
    /// A header the dialog needs is missing or unreadable.
    #[error("{0} is missing or malformed")]
    Header(&'static str),
    /// The Contact is missing, not a single SIP URI, or unusable as a target.
    #[error("Contact is missing or is not a single sip/sips URI")]
    Contact,
    /// The request we built did not parse (a value we were given is not valid SIP).
    #[error("the request built is not valid SIP: {0}")]
    Build(String),
}

/// Which side made the dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// We answered the INVITE.
    Uas,
    /// We sent the INVITE.
    Uac,
}

/// One dialog's state.
#[derive(Clone, Debug)]
pub struct Dialog {
    /// Which side we are.
    pub side: Side,
    /// The Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag (empty until a UAC dialog gets one).
    pub remote_tag: String,
    /// Our URI as it appears in From (UAC) or To (UAS), with display name, without tag.
    pub local_uri: String,
    /// The peer's URI, with display name, without tag.
    pub remote_uri: String,
    /// The CSeq of the last request we sent in the dialog.
    pub local_cseq: u32,
    /// The CSeq of the last request the peer sent in the dialog.
    pub remote_cseq: Option<u32>,
    /// Where requests go: the peer's Contact.
    pub remote_target: Uri,
    /// Route header values for our requests, in order.
    pub route_set: Vec<String>,
    /// The Contact we put in our requests and responses (a full header value).
    pub local_contact: String,
}

/// The value of a From/To header without its tag parameter, as text.
fn without_tag(addr: &NameAddr) -> String {
    // Written as NameAddr's Display does, leaving the tag out (no clone of the address).
    let mut out = String::with_capacity(64);
    if let Some(d) = &addr.display {
        crate::sip::write_quoted(&mut out, d);
        out.push(' ');
    }
    out.push('<');
    addr.uri.write_to(&mut out);
    out.push('>');
    for (name, value) in addr.params.iter() {
        if name.eq_ignore_ascii_case("tag") {
            continue;
        }
        out.push(';');
        out.push_str(name);
        if let Some(v) = value {
            out.push('=');
            out.push_str(v);
        }
    }
    out
}

/// The single Contact URI of a message.
fn contact_uri(headers: &crate::sip::Headers) -> Result<Uri, DialogError> {
    single_contact(headers.contacts().as_ref())
}

/// The single SIP URI of a parsed Contact field.
fn single_contact(
    contacts: Result<&crate::sip::ContactList, &crate::sip::ParseError>,
) -> Result<Uri, DialogError> {
    match contacts {
        Ok(crate::sip::ContactList::Addrs(list)) => match list.as_slice() {
            [one] if matches!(one.uri, Uri::Sip(_)) => Ok(one.uri.clone()),
            _ => Err(DialogError::Contact),
        },
        _ => Err(DialogError::Contact),
    }
}

impl Dialog {
    /// The dialog a received INVITE (or other dialog-creating request) makes on our side
    /// (12.1.1): route set from Record-Route in order, remote target from Contact.
    /// `local_cseq` starts our CSeq numbering (any value below 2**31).
    pub fn uas(
        request: &Request,
        local_tag: &str,
        local_contact: &str,
        local_cseq: u32,
    ) -> Result<Dialog, DialogError> {
        // The typed accessors reuse what validation parsed.
        let h = &request.headers;
        let call_id = h
            .call_id()
            .map_err(|_| DialogError::Header("Call-ID"))?
            .to_string();
        let from = request
            .from_addr()
            .map_err(|_| DialogError::Header("From"))?;
        let to = request.to_addr().map_err(|_| DialogError::Header("To"))?;
        let cseq = request.cseq().map_err(|_| DialogError::Header("CSeq"))?;
        let route_set = h
            .get_all(&HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .collect();
        Ok(Dialog {
            side: Side::Uas,
            call_id,
            local_tag: local_tag.to_string(),
            remote_tag: from.tag().unwrap_or_default().to_string(),
            local_uri: without_tag(&to),
            remote_uri: without_tag(&from),
            local_cseq,
            remote_cseq: Some(cseq.seq),
            remote_target: single_contact(request.contacts().as_deref())?,
            route_set,
            local_contact: local_contact.to_string(),
        })
    }

    /// The dialog the response (1xx with a To tag, or 2xx) to our INVITE makes (12.1.2):
    /// route set from Record-Route reversed, remote target from the response's Contact.
    pub fn uac(
        request: &Request,
        response: &Response,
        local_contact: &str,
    ) -> Result<Dialog, DialogError> {
        let h = &request.headers;
        let call_id = h
            .call_id()
            .map_err(|_| DialogError::Header("Call-ID"))?
            .to_string();
        let from = h.from().map_err(|_| DialogError::Header("From"))?;
        let to = response.to_addr().map_err(|_| DialogError::Header("To"))?;
        let cseq = h.cseq().map_err(|_| DialogError::Header("CSeq"))?;
        let mut route_set: Vec<String> = response
            .headers
            .get_all(&HeaderName::RecordRoute)
            .map(|v| String::from_utf8_lossy(v).trim().to_string())
            .collect();
        route_set.reverse();
        Ok(Dialog {
            side: Side::Uac,
            call_id,
            local_tag: from.tag().unwrap_or_default().to_string(),
            remote_tag: to.tag().unwrap_or_default().to_string(),
            local_uri: without_tag(&from),
            remote_uri: without_tag(&to),
            local_cseq: cseq.seq,
            remote_cseq: None,
            remote_target: single_contact(response.contacts().as_deref())?,
            route_set,
            local_contact: local_contact.to_string(),
        })
    }

    /// Takes a new remote target from a target-refresh request or its 2xx (12.2): a
    /// message without a usable Contact leaves the target as it was.
    pub fn refresh_target(&mut self, headers: &crate::sip::Headers) {
        if let Ok(uri) = contact_uri(headers) {
            self.remote_target = uri;
        }
    }

    /// Checks the CSeq of a request the peer sent in the dialog (12.2.2): lower than the
    /// last one is out of order (answer 500); otherwise it becomes the last one.
    pub fn accept_remote_cseq(&mut self, seq: u32) -> bool {
        if self.remote_cseq.is_some_and(|last| seq < last) {
            return false;
        }
        self.remote_cseq = Some(seq);
        true
    }

    /// The From header value of our requests.
    pub fn from_value(&self) -> String {
        [self.local_uri.as_str(), ";tag=", &self.local_tag].concat()
    }

    /// The To header value of our requests.
    pub fn to_value(&self) -> String {
        if self.remote_tag.is_empty() {
            self.remote_uri.clone()
        } else {
            [self.remote_uri.as_str(), ";tag=", &self.remote_tag].concat()
        }
    }

    /// Where the request goes first: the first route (loose) or the remote target.
    pub fn next_hop(&self) -> Uri {
        self.route_set
            .first()
            .and_then(|r| NameAddr::parse(r.as_bytes(), "Route").ok())
            .map(|a| a.uri)
            .unwrap_or_else(|| self.remote_target.clone())
    }

    /// A request within the dialog. `via` is the top Via value without branch (the
    /// transaction layer adds one); `extra` header fields go after the standard ones; a
    /// body is sent with its Content-Type. CSeq is the next number, except for ACK, which
    /// takes `ack_cseq` (the INVITE's).
    pub fn request(
        &mut self,
        method: Method,
        via: &str,
        extra: &[(HeaderName, String)],
        body: Option<(&str, &Bytes)>,
        ack_cseq: Option<u32>,
    ) -> Result<Request, DialogError> {
        let seq = match (method.clone(), ack_cseq) {
            (Method::Ack, Some(seq)) => seq,
            _ => {
                self.local_cseq = self.local_cseq.wrapping_add(1) & 0x7fff_ffff;
                self.local_cseq
            }
        };
        // Loose routing (;lr) keeps the target in the Request-URI; a strict first route
        // takes its place and the target goes last (RFC 3261 12.2.1.1).
        let mut routes = self.route_set.clone();
        let mut target = self.remote_target.clone();
        let strict = routes
            .first()
            .and_then(|r| NameAddr::parse(r.as_bytes(), "Route").ok())
            .is_some_and(|a| !a.uri.as_sip().is_some_and(|u| u.params.contains("lr")));
        if strict
            && let Some(first) = routes.first().cloned()
            && let Ok(a) = NameAddr::parse(first.as_bytes(), "Route")
        {
            routes.remove(0);
            routes.push(format!("<{target}>"));
            target = a.uri;
        }
        // Built as fields, not as text parsed back: only the values given by the dialplan
        // (extra fields, the body's type) are checked, for line breaks that would end
        // the field.
        let invalid = |v: &str| v.bytes().any(|b| b == b'\r' || b == b'\n');
        if let Some((name, _)) = extra.iter().find(|(_, v)| invalid(v)) {
            return Err(DialogError::Build(format!(
                "a line break in the {name} value"
            )));
        }
        if body.is_some_and(|(ty, _)| invalid(ty)) {
            return Err(DialogError::Build(
                "a line break in the Content-Type".into(),
            ));
        }
        let mut headers = crate::sip::Headers::with_capacity(10 + routes.len() + extra.len());
        headers.push(
            HeaderName::Via,
            [via, ";branch=", crate::sip::PENDING_BRANCH]
                .concat()
                .into_bytes(),
        );
        headers.push(HeaderName::MaxForwards, Bytes::from_static(b"70"));
        headers.push(HeaderName::From, self.from_value().into_bytes());
        headers.push(HeaderName::To, self.to_value().into_bytes());
        headers.push(HeaderName::CallId, self.call_id.clone().into_bytes());
        let mut cseq = String::with_capacity(16);
        crate::sip::push_decimal(&mut cseq, u64::from(seq));
        cseq.push(' ');
        cseq.push_str(method.as_str());
        headers.push(HeaderName::CSeq, cseq.into_bytes());
        for r in routes {
            headers.push(HeaderName::Route, r.into_bytes());
        }
        if matches!(method, Method::Invite | Method::Update | Method::Subscribe) {
            headers.push(HeaderName::Contact, self.local_contact.clone().into_bytes());
        }
        for (name, value) in extra {
            headers.push(name.clone(), value.clone().into_bytes());
        }
        let body =
            headers.push_body(body.map(|(ty, b)| (Bytes::copy_from_slice(ty.as_bytes()), b)));
        Ok(Request::new(method, target, headers, body))
    }
}
