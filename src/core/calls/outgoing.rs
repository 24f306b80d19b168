//! Outgoing calls: the INVITE we send for the PBX, its responses (early dialogs,
//! PRACK, the 2xx and its ACK), CANCEL, and acknowledging 2xx retransmissions.

use super::*;

impl Core {
    /// CANCEL for an outgoing INVITE (same Request-URI, Call-ID, From, To, CSeq number,
    /// top Via and Route as the INVITE, RFC 3261 9.1).
    pub(in crate::core) fn send_cancel(
        &mut self,
        now: Instant,
        id: SessionId,
        reason: Option<(HeaderName, Bytes)>,
    ) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        leg.state = State::Ending;
        leg.cancel_pending = false;
        let invite = &leg.invite;
        let mut text = format!("CANCEL {} SIP/2.0\r\n", invite.uri);
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(v) = invite.headers.get(&name) {
                text.push_str(&format!(
                    "{}: {}\r\n",
                    name.as_str(),
                    String::from_utf8_lossy(v)
                ));
            }
        }
        let seq = invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
        text.push_str(&format!("CSeq: {seq} CANCEL\r\nMax-Forwards: 70\r\n"));
        for r in invite.headers.get_all(&HeaderName::Route) {
            text.push_str(&format!("Route: {}\r\n", String::from_utf8_lossy(r)));
        }
        if let Some((n, v)) = reason {
            text.push_str(&format!(
                "{}: {}\r\n",
                n.as_str(),
                String::from_utf8_lossy(&v)
            ));
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        let flow = leg.flow.clone();
        if let Ok(Message::Request(cancel)) = Message::parse(Bytes::from(text)) {
            // Same branch as the INVITE: its own client transaction (method CANCEL).
            let _ = self.send_request_keep_branch(now, flow, cancel);
        }
        let at = now + 64 * self.timers.t1;
        self.calls.arm(id, at, Due::CancelGiveUp);
    }

    /// Sends an INVITE for the PBX (an outgoing call leg).
    pub fn session_invite(
        &mut self,
        now: Instant,
        snapshot: &Snapshot,
        call: OutgoingCall,
    ) -> Option<SessionId> {
        let ep = snapshot.endpoint(&call.endpoint)?;
        let g = crate::identify::global(snapshot);
        let local = hostport(call.local);
        let tag = self.tsx.new_tag();
        let call_id = [self.tsx.new_tag(), self.tsx.new_tag()].join("-");
        let id = OutgoingIdentity::new(&call.caller, ep, &g.default_from_user, &local);
        let display = quoted_display(&id.from_name);
        let from_uri = ["sip:", &escape_user(&id.from_user), "@", &id.from_host].concat();
        let sent_by = Self::sent_by(snapshot, &call.flow, call.local);
        let contact = Self::contact_for(&call.flow, &sent_by, &ep.contact_user);
        // Built as fields, not as text parsed back. Values from the configuration and the
        // dialplan are checked for line breaks that would end their field.
        let seq = self.cseq_start();
        let mut headers =
            crate::sip::Headers::with_capacity(16 + call.route.len() + call.headers.len());
        let mut via = Self::via_for(&call.flow, &sent_by);
        via.push_str(";branch=");
        via.push_str(crate::sip::PENDING_BRANCH);
        headers.push(HeaderName::Via, via.into_bytes());
        headers.push(HeaderName::MaxForwards, Bytes::from_static(b"70"));
        headers.push(
            HeaderName::From,
            [display.as_str(), "<", &from_uri, ">;tag=", &tag]
                .concat()
                .into_bytes(),
        );
        let mut to = String::with_capacity(64);
        to.push('<');
        call.uri.write_to(&mut to);
        to.push('>');
        headers.push(HeaderName::To, to.into_bytes());
        headers.push(HeaderName::Contact, contact.into_bytes());
        headers.push(HeaderName::CallId, call_id.clone().into_bytes());
        let mut cseq = String::with_capacity(20);
        crate::sip::push_decimal(&mut cseq, u64::from(seq));
        cseq.push_str(" INVITE");
        headers.push(HeaderName::CSeq, cseq.into_bytes());
        headers.push(HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes()));
        headers.push(
            HeaderName::Supported,
            if ep.rel100 == Rel100::No {
                Bytes::from_static(SUPPORTED.as_bytes())
            } else {
                format!("{SUPPORTED}, 100rel").into_bytes().into()
            },
        );
        for r in &call.route {
            headers.push(HeaderName::Route, r.clone().into_bytes());
        }
        if ep.rel100 == Rel100::Required {
            headers.push(HeaderName::Require, Bytes::from_static(b"100rel"));
        }
        if ep.timers != Timers::No {
            let mut se = String::with_capacity(10);
            crate::sip::push_decimal(&mut se, u64::from(ep.timers_sess_expires));
            headers.push(HeaderName::SessionExpires, se.into_bytes());
            let mut min = String::with_capacity(10);
            crate::sip::push_decimal(&mut min, u64::from(ep.timers_min_se));
            headers.push(HeaderName::MinSe, min.into_bytes());
        }
        // Identity headers: not for a restricted caller unless the endpoint is trusted
        // with it (trust_id_outbound); then marked private (RFC 3325 Privacy: id, RPID
        // privacy=full).
        if id.asserted && !call.caller.number.is_empty() {
            let id_uri = ["sip:", &escape_user(&call.caller.number), "@", &id.id_host].concat();
            let id_display = quoted_display(&call.caller.name);
            let restricted = call.caller.presentation.restricted();
            if ep.send_pai {
                headers.push(
                    HeaderName::new("P-Asserted-Identity"),
                    [id_display.as_str(), "<", &id_uri, ">"]
                        .concat()
                        .into_bytes(),
                );
                if restricted {
                    headers.push(HeaderName::new("Privacy"), Bytes::from_static(b"id"));
                }
            }
            if ep.send_rpid {
                headers.push(
                    HeaderName::new("Remote-Party-ID"),
                    format!(
                        "{id_display}<{id_uri}>;party=calling;privacy={};screen={}",
                        if restricted { "full" } else { "off" },
                        if call.caller.presentation.screened() {
                            "yes"
                        } else {
                            "no"
                        },
                    )
                    .into_bytes(),
                );
            }
        }
        for (n, v) in &call.headers {
            let name = HeaderName::new(n);
            if !name.as_str().is_empty()
                && name
                    .as_str()
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b':')
                && !v.contains(['\r', '\n'])
            {
                headers.push(name, v.clone().into_bytes());
            }
        }
        headers.push(HeaderName::UserAgent, g.user_agent.clone().into_bytes());
        let body = headers.push_body(
            call.sdp
                .as_ref()
                .map(|sdp| (Bytes::from_static(b"application/sdp"), sdp)),
        );
        if let Some((name, _)) = headers
            .iter()
            .find(|(_, v)| v.iter().any(|&b| b == b'\r' || b == b'\n'))
        {
            tracing::warn!(
                "Endpoint '{}': no INVITE sent, a line break in its {} field",
                call.endpoint,
                name.as_str()
            );
            return None;
        }
        let invite = Request::new(Method::Invite, call.uri.clone(), headers, body);
        let auths = outbound_auths(snapshot, ep.outbound_auth.0.iter());
        let id = self.calls.new_id();
        self.dialogs
            .insert(DialogKey::new(&call_id, &tag), self.queue);
        self.calls
            .by_dialog
            .insert(DialogKey::new(&call_id, &tag), id);
        self.calls.legs.insert(
            id,
            Leg {
                local_sdp: call.sdp.clone(),
                auths: auths.clone(),
                ..Leg::new(
                    State::Outgoing,
                    call.flow.clone(),
                    sent_by.clone(),
                    invite.clone(),
                    self.timers.t1,
                    ep.rewrite_contact,
                )
            },
        );
        let rid = self.send_request_session(now, call.flow, invite, auths, id);
        match rid {
            Some(rid) => {
                let sent = self.sent_request(rid).cloned();
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.request = Some(rid);
                    if let Some(r) = sent {
                        leg.invite = std::sync::Arc::new(r);
                    }
                }
                self.calls.mark_request(rid, id);
                Some(id)
            }
            None => {
                self.forget(id);
                None
            }
        }
    }

    /// A response to a request a session sent (INVITE, re-INVITE, UPDATE, BYE, INFO,
    /// CANCEL). Provisional and 2xx responses to INVITEs come here as they arrive; other
    /// final ones after authentication is done with.
    pub(in crate::core) fn session_response(
        &mut self,
        now: Instant,
        rid: RequestId,
        response: &Response,
    ) {
        let Some(&id) = self.calls.by_request.get(&rid) else {
            return;
        };
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            if response.status.is_success()
                && response
                    .headers
                    .cseq()
                    .is_ok_and(|c| c.method == Method::Invite)
            {
                self.late_ack(id);
            }
            return;
        };
        let status = response.status.code();
        let method = response
            .headers
            .cseq()
            .map(|c| c.method)
            .unwrap_or(Method::Invite);
        let sdp = (!response.body.is_empty()).then(|| response.body.clone());
        let initial = leg.request == Some(rid);
        if initial && method == Method::Invite {
            if status < 200 {
                if status > 100 {
                    leg.provisional = true;
                    if leg.dialog.is_none()
                        && response.to_addr().is_ok_and(|t| t.tag().is_some())
                        && let Ok(d) = Dialog::uac(&leg.invite, response, &leg.invite_contact())
                    {
                        leg.dialog = Some(d);
                    }
                } else {
                    // 100 Trying lets a CANCEL go too (RFC 3261 9.1: "any provisional").
                    leg.provisional = true;
                }
                if leg.cancel_pending {
                    self.send_cancel(now, id, None);
                    self.drain(now);
                    return;
                }
                // A reliable provisional response is PRACKed once (RFC 3262 4); its
                // retransmissions are not news.
                let rseq = header(&response.headers, &HeaderName::RSeq)
                    .and_then(|v| v.parse::<u32>().ok());
                let reliable = response
                    .headers
                    .tokens(&HeaderName::Require)
                    .unwrap_or_default()
                    .iter()
                    .any(|t| t.eq_ignore_ascii_case("100rel"));
                if let (true, Some(rseq)) = (reliable && status > 100, rseq) {
                    let Some(leg) = self.calls.legs.get_mut(&id) else {
                        return;
                    };
                    if leg.last_rseq.is_some_and(|last| rseq <= last) {
                        return;
                    }
                    leg.last_rseq = Some(rseq);
                    let cseq = leg.invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
                    let rack = [(
                        HeaderName::RAck,
                        Bytes::from(format!("{rseq} {cseq} INVITE")),
                    )];
                    let _ = self.send_in_dialog_typed(now, id, Method::Prack, &rack, None);
                }
                if status > 100 {
                    self.session_event(SessionEvent::Progress { id, status, sdp });
                }
                self.drain(now);
                return;
            }
            if status < 300 {
                self.on_invite_2xx(now, id, response);
                return;
            }
            // Failure: the transaction acknowledged it.
            let q850 =
                header(&response.headers, &HeaderName::new("Reason")).and_then(|r| q850_cause(&r));
            let cancelled = leg.state == State::Ending;
            self.session_event(SessionEvent::Failed {
                id,
                status: if cancelled && status != 487 {
                    487
                } else {
                    status
                },
                q850,
            });
            self.finish(now, id);
            return;
        }
        match method {
            Method::Invite | Method::Update if leg.offer_sent == Some(rid) => {
                if status < 200 {
                    return;
                }
                leg.offer_sent = None;
                if method == Method::Invite && status < 300 {
                    self.send_ack(now, id, response);
                }
                if status < 300
                    && let Some(leg) = self.calls.legs.get_mut(&id)
                {
                    if let Some(d) = leg.dialog.as_mut() {
                        d.refresh_target(&response.headers);
                    }
                    leg.timer_since = Some(now);
                }
                if matches!(status, 408 | 481) {
                    self.lost(now, id);
                    return;
                }
                if status == 491 {
                    // Glare: try again after 2.1-4 s when we own the Call-ID (we sent the
                    // INVITE), else 0-2 s (RFC 3261 14.1); the PBX hears nothing yet.
                    let uac = self
                        .calls
                        .legs
                        .get(&id)
                        .and_then(|l| l.dialog.as_ref())
                        .is_some_and(|d| d.side == crate::dialog::Side::Uac);
                    let r = u64::from(
                        u16::from_str_radix(self.tsx.new_tag().get(..4).unwrap_or("0"), 16)
                            .unwrap_or(0),
                    );
                    let wait = if uac {
                        Duration::from_millis(2100 + r % 1900)
                    } else {
                        Duration::from_millis(r % 2000)
                    };
                    let update = method == Method::Update;
                    if let Some(leg) = self.calls.legs.get_mut(&id)
                        && let Some(sdp) = leg.local_sdp.clone()
                    {
                        leg.retry_offer = Some((now + wait, sdp, update));
                        self.calls.timers.push(now + wait, id);
                    }
                    return;
                }
                self.session_event(SessionEvent::OfferAnswered {
                    id,
                    sdp: if status < 300 { sdp } else { None },
                    status,
                });
            }
            Method::Invite | Method::Update if leg.refresh_sent == Some(rid) => {
                if status < 200 {
                    return;
                }
                leg.refresh_sent = None;
                if method == Method::Invite && status < 300 {
                    self.send_ack(now, id, response);
                }
                if matches!(status, 408 | 481) {
                    self.lost(now, id);
                    return;
                }
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.timer_since = Some(now);
                }
                self.rearm_session_timer(now, id);
            }
            Method::Invite => {
                // A 2xx retransmission of the initial INVITE after the leg moved on.
                if (200..300).contains(&status) {
                    self.resend_ack(id);
                }
            }
            Method::Bye if status >= 200 => self.finish(now, id),
            _ => {
                if matches!(status, 408 | 481) && method != Method::Cancel {
                    self.lost(now, id);
                }
            }
        }
    }

    /// A request of a session ended without a final response (timeout, transport error).
    pub(in crate::core) fn session_failed(&mut self, now: Instant, rid: RequestId, status: u16) {
        let Some(&id) = self.calls.by_request.get(&rid) else {
            return;
        };
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let initial = leg.request == Some(rid)
            && leg
                .dialog
                .as_ref()
                .is_none_or(|_| matches!(leg.state, State::Outgoing | State::Ending))
            && leg.ok.is_none()
            && leg.ack.is_none();
        if initial {
            self.session_event(SessionEvent::Failed {
                id,
                status,
                q850: None,
            });
            self.finish(now, id);
        } else if leg.state == State::Ending {
            self.finish(now, id);
        } else if leg.offer_sent == Some(rid) || leg.refresh_sent == Some(rid) {
            self.lost(now, id);
        }
    }

    /// A 2xx to our initial INVITE: the dialog, the ACK, the session timer.
    pub(in crate::core) fn on_invite_2xx(
        &mut self,
        now: Instant,
        id: SessionId,
        response: &Response,
    ) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        if leg.ack.is_some() {
            // A retransmission, or a 2xx from another fork: acknowledge again.
            self.resend_ack(id);
            return;
        }
        let contact = leg.invite_contact();
        let mut dialog = match Dialog::uac(&leg.invite, response, &contact) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("2xx to INVITE unusable ({e}); ending the call");
                leg.dialog = None;
                self.session_event(SessionEvent::Failed {
                    id,
                    status: 502,
                    q850: None,
                });
                self.finish(now, id);
                return;
            }
        };
        if let Some(early) = &leg.dialog {
            dialog.local_cseq = dialog.local_cseq.max(early.local_cseq);
        }
        if leg.rewrite_contact
            && let Uri::Sip(mut u) = dialog.remote_target.clone()
        {
            u.host = match leg.flow.remote.ip() {
                std::net::IpAddr::V4(ip) => crate::sip::Host::Ipv4(ip),
                std::net::IpAddr::V6(ip) => crate::sip::Host::Ipv6(ip),
            };
            u.port = Some(leg.flow.remote.port());
            dialog.remote_target = Uri::Sip(u);
        }
        leg.dialog = Some(dialog);
        // Session timer from the 2xx's Session-Expires.
        if let Some((secs, refresher)) =
            header(&response.headers, &HeaderName::new("Session-Expires"))
                .and_then(|v| parse_session_expires(&v))
            && secs > 0
        {
            leg.timer = Some(SessionTimer {
                interval: Duration::from_secs(u64::from(secs)),
                refresher: if refresher
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case("uas"))
                {
                    Refresher::Them
                } else {
                    Refresher::Us
                },
            });
        }
        let cancelling = leg.state == State::Ending;
        leg.state = State::Confirmed;
        leg.timer_since = Some(now);
        let sdp = (!response.body.is_empty()).then(|| response.body.clone());
        self.send_ack(now, id, response);
        if cancelling {
            // Our CANCEL crossed the 2xx: the call is answered, so it gets a BYE (9.1).
            self.session_event(SessionEvent::Failed {
                id,
                status: 487,
                q850: None,
            });
            self.send_in_dialog(now, id, Method::Bye, &[], None);
            if let Some(leg) = self.calls.legs.get_mut(&id) {
                leg.state = State::Ending;
            }
            return;
        }
        self.rearm_session_timer(now, id);
        self.session_event(SessionEvent::Answered { id, sdp });
    }

    /// Sends the ACK for a 2xx (and keeps it for retransmissions of that 2xx).
    pub(in crate::core) fn send_ack(&mut self, now: Instant, id: SessionId, response: &Response) {
        let _ = now;
        let seq = response.cseq().map(|c| c.seq).unwrap_or(1);
        let tag = self.tsx.new_tag();
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let via = Self::via_for(&leg.flow, &leg.sent_by);
        let mut branch = ["z9hG4bK", &tag].concat();
        crate::sip::push_hex(&mut branch, u64::from(seq), 1);
        let Some(dialog) = leg.dialog.as_mut() else {
            return;
        };
        let Ok(mut ack) = dialog.request(Method::Ack, &via, &[], None, Some(seq)) else {
            return;
        };
        let _ = super::super::set_branch(&mut ack.headers, &branch);
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let current = leg.flow.clone();
        let flow = match &leg.dialog {
            Some(dialog) if !current.is_reliable() && !leg.rewrite_contact => self
                .target_flow(dialog, &current.transport)
                .unwrap_or(current),
            _ => current,
        };
        let bytes = Message::Request(ack).to_bytes();
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.ack = Some(bytes.clone());
            leg.flow = flow.clone();
        }
        self.out.push_back(Transmit { flow, bytes });
    }

    pub(in crate::core) fn resend_ack(&mut self, id: SessionId) {
        if let Some(leg) = self.calls.legs.get(&id)
            && let Some(bytes) = leg.ack.clone()
        {
            self.out.push_back(Transmit {
                flow: leg.flow.clone(),
                bytes,
            });
        }
    }

    /// Acknowledges again a 2xx retransmitted for an ended outgoing session.
    pub(in crate::core) fn late_ack(&mut self, id: SessionId) {
        if let Some(late) = self.calls.late.get(&id) {
            self.out.push_back(Transmit {
                flow: late.flow.clone(),
                bytes: late.ack.clone(),
            });
        }
    }
}

/// The identity an outgoing INVITE presents, as Asterisk's `set_from_header` and
/// `add_id_headers` (res_pjsip_session.c, res_pjsip_caller_id.c) make it.
struct OutgoingIdentity {
    from_name: String,
    from_user: String,
    from_host: String,
    /// The host of P-Asserted-Identity / Remote-Party-ID: From's before anonymization.
    id_host: String,
    /// Whether P-Asserted-Identity / Remote-Party-ID may be sent.
    asserted: bool,
}

impl OutgoingIdentity {
    fn new(caller: &Party, ep: &Endpoint, default_user: &str, local_host: &str) -> Self {
        let restricted = caller.presentation.restricted();
        // The caller is shown unless restricted, or to an endpoint trusted with it.
        let shown = ep.trust_id_outbound || !restricted;
        let mut from_user = if shown && !caller.number.is_empty() {
            caller.number.clone()
        } else {
            default_user.to_string()
        };
        let mut from_name = if shown {
            caller.name.clone()
        } else {
            String::new()
        };
        // from_user carries no display name.
        if !ep.from_user.is_empty() {
            from_user = ep.from_user.clone();
            from_name.clear();
        }
        let mut from_host = if ep.from_domain.is_empty() {
            local_host.to_string()
        } else {
            ep.from_domain.clone()
        };
        let id_host = from_host.clone();
        // RFC 3323 4.1.1.3; from_user and from_domain still win (as in chan_sip).
        if restricted {
            from_name = "Anonymous".to_string();
            if ep.from_user.is_empty() {
                from_user = "anonymous".to_string();
            }
            if ep.from_domain.is_empty() {
                from_host = "anonymous.invalid".to_string();
            }
        }
        Self {
            from_name,
            from_user,
            from_host,
            id_host,
            asserted: shown,
        }
    }
}

/// `"name" ` for a display name (quotes and backslashes dropped), or nothing.
fn quoted_display(name: &str) -> String {
    if name.is_empty() {
        String::new()
    } else {
        ["\"", &name.replace(['"', '\\'], ""), "\" "].concat()
    }
}
