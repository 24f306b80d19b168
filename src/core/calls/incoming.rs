//! Incoming calls: the INVITE we receive (checks, UAS dialog, the PBX told), our
//! provisional (reliable ones with RFC 3262) and final answers, CANCEL, the ACK of our 2xx.

use super::*;

impl Core {
    /// A new INVITE out of dialog from an identified, authenticated endpoint.
    pub(in crate::core) fn incoming_invite(
        &mut self,
        now: Instant,
        snapshot: &Snapshot,
        key: &ServerKey,
        request: &Request,
        flow: &Flow,
        endpoint: &str,
    ) {
        let Some(ep) = snapshot.endpoint(endpoint) else {
            self.reply(now, key, request, 500, &[], None);
            return;
        };
        if self
            .overload_wait
            .is_some_and(|bound| self.queue_wait > bound)
        {
            let retry = [(HeaderName::RetryAfter, Bytes::from_static(b"5"))];
            self.reply(now, key, request, 503, &retry, None);
            return;
        }
        if !matches!(request.uri, Uri::Sip(_) | Uri::Tel(_)) {
            self.reply(now, key, request, 416, &[], None);
            return;
        }
        if !request.body.is_empty() {
            let sdp = request
                .headers
                .content_type()
                .ok()
                .flatten()
                .is_some_and(|t| t.is("application", "sdp"));
            if !sdp {
                let accept = [(HeaderName::Accept, Bytes::from_static(b"application/sdp"))];
                self.reply(now, key, request, 415, &accept, None);
                return;
            }
        }
        // Extensions we must understand (RFC 3261 8.2.2.3).
        let required = request
            .headers
            .tokens(&HeaderName::Require)
            .unwrap_or_default();
        let rel100_ok = ep.rel100 != Rel100::No;
        let unsupported: Vec<&String> = required
            .iter()
            .filter(|t| {
                let t = t.to_ascii_lowercase();
                !(t == "timer" || t == "replaces" || (t == "100rel" && rel100_ok))
            })
            .collect();
        if !unsupported.is_empty() {
            let list = unsupported
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            self.reply(
                now,
                key,
                request,
                420,
                &[(HeaderName::Unsupported, Bytes::from(list))],
                None,
            );
            return;
        }
        let supported_list = request
            .headers
            .tokens(&HeaderName::Supported)
            .unwrap_or_default();
        let supported = supported_list
            .iter()
            .any(|t| t.eq_ignore_ascii_case("timer"));
        let rel100 = rel100_ok
            && supported_list
                .iter()
                .chain(required.iter())
                .any(|t| t.eq_ignore_ascii_case("100rel"));
        let se = header(&request.headers, &HeaderName::new("Session-Expires"))
            .and_then(|v| parse_session_expires(&v));
        let timer = match uas_timer(
            &timer_policy(ep),
            se.as_ref().map(|(s, r)| (*s, r.as_deref())),
            supported,
        ) {
            TimerDecision::TooSmall(min) => {
                let h = [(HeaderName::new("Min-SE"), Bytes::from(min.to_string()))];
                self.reply(now, key, request, 422, &h, None);
                return;
            }
            TimerDecision::None => None,
            TimerDecision::Use {
                interval,
                uac_refreshes,
            } => Some(SessionTimer {
                interval: Duration::from_secs(u64::from(interval)),
                refresher: if uac_refreshes {
                    Refresher::Them
                } else {
                    Refresher::Us
                },
            }),
        };
        let local = self
            .network
            .route(Some(&flow.transport), flow.remote)
            .map(|(_, local)| local)
            .unwrap_or(flow.remote);
        let tag = self.tsx.new_tag();
        let sent_by = Self::sent_by(snapshot, flow, local);
        let contact = Self::contact_for(flow, &sent_by, &ep.contact_user);
        let mut dialog = match Dialog::uas(request, &tag, &contact, self.cseq_start()) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("INVITE refused: {e}");
                self.reply(now, key, request, 400, &[], None);
                return;
            }
        };
        let mut leg_flow = flow.clone();
        if ep.rewrite_contact {
            // The dialog's target becomes the packet's source (res_pjsip_nat).
            if let Uri::Sip(mut u) = dialog.remote_target.clone() {
                u.host = match flow.remote.ip() {
                    std::net::IpAddr::V4(ip) => crate::sip::Host::Ipv4(ip),
                    std::net::IpAddr::V6(ip) => crate::sip::Host::Ipv6(ip),
                };
                u.port = Some(flow.remote.port());
                dialog.remote_target = Uri::Sip(u);
            }
        } else if !flow.is_reliable()
            && let Some(f) = self.target_flow(&dialog, &flow.transport)
        {
            leg_flow = f;
        }
        let id = self.calls.new_id();
        let exten = super::uri_user(&request.uri);
        let exten = match exten.split_once(';') {
            Some((e, _)) if crate::identify::global(snapshot).ignore_uri_user_options => {
                e.to_string()
            }
            _ => exten,
        };
        let caller = caller_of(request, ep);
        let dkey = DialogKey::new(&dialog.call_id, &dialog.local_tag);
        self.dialogs.insert(dkey.clone(), self.queue);
        self.calls.by_dialog.insert(dkey, id);
        self.calls.by_invite.insert(key.clone(), id);
        self.calls.legs.insert(
            id,
            Leg {
                dialog: Some(dialog),
                invite_key: Some(key.clone()),
                timer,
                rel100,
                ..Leg::new(
                    State::Incoming,
                    leg_flow,
                    sent_by.clone(),
                    request.clone(),
                    self.timers.t1,
                    ep.rewrite_contact,
                )
            },
        );
        let headers = request.headers.clone();
        self.session_event(SessionEvent::Incoming(Box::new(IncomingCall {
            id,
            endpoint: endpoint.to_string(),
            exten: if exten.is_empty() { "s".into() } else { exten },
            caller,
            offer: (!request.body.is_empty()).then(|| request.body.clone()),
            source: flow.remote,
            transport: flow.transport.to_string(),
            local,
            headers,
        })));
    }

    /// Sends a response to a request of a session through its server transaction, with
    /// extra header fields and an optional SDP body.
    pub(in crate::core) fn reply(
        &mut self,
        now: Instant,
        key: &ServerKey,
        request: &Request,
        status: u16,
        extra: &[(HeaderName, Bytes)],
        tag: Option<&str>,
    ) -> Option<Bytes> {
        self.reply_body(now, key, request, status, extra, tag, None)
    }

    #[allow(clippy::too_many_arguments)]
    pub(in crate::core) fn reply_body(
        &mut self,
        now: Instant,
        key: &ServerKey,
        request: &Request,
        status: u16,
        extra: &[(HeaderName, Bytes)],
        tag: Option<&str>,
        sdp: Option<&Bytes>,
    ) -> Option<Bytes> {
        let status = StatusCode::new(status)?;
        let generated;
        let tag = match tag {
            Some(t) => t,
            None => {
                generated = self.tsx.new_tag();
                &generated
            }
        };
        let mut msg = Message::Response(response_with(request, status, Some(tag), extra));
        if let Some(body) = sdp {
            msg.headers_mut().remove(&HeaderName::ContentLength);
            msg.headers_mut().push(
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            );
            msg.set_body(body.clone());
        }
        let bytes = msg.to_bytes();
        let _ = self.tsx.send_response_bytes(now, key, bytes.clone());
        Some(bytes)
    }

    /// Header fields of our answers to an INVITE.
    pub(in crate::core) fn answer_headers(
        &self,
        leg: &Leg,
        status: u16,
    ) -> Vec<(HeaderName, Bytes)> {
        let mut h = Vec::new();
        if status > 100 && status < 300 {
            if let Some(d) = &leg.dialog {
                h.push((HeaderName::Contact, Bytes::from(d.local_contact.clone())));
            }
            h.push((HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())));
        }
        if (200..300).contains(&status) {
            h.push((
                HeaderName::Supported,
                Bytes::from_static(SUPPORTED.as_bytes()),
            ));
            if let Some(t) = leg.timer {
                let who = match t.refresher {
                    Refresher::Them => "uac",
                    Refresher::Us => "uas",
                };
                h.push((HeaderName::Require, Bytes::from_static(b"timer")));
                h.push((
                    HeaderName::new("Session-Expires"),
                    Bytes::from(format!("{};refresher={who}", t.interval.as_secs())),
                ));
            }
        }
        h
    }

    /// Sends a provisional response (180, 183 with early-media SDP) to an incoming call.
    pub fn session_progress(
        &mut self,
        now: Instant,
        id: SessionId,
        status: u16,
        sdp: Option<Bytes>,
    ) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let (Some(key), State::Incoming) = (leg.invite_key.clone(), leg.state) else {
            return;
        };
        if leg.rel100 && leg.unacked.is_some() {
            // One reliable provisional at a time (RFC 3262 3): this one waits its PRACK.
            leg.queued_1xx.push((status, sdp));
            return;
        }
        let reliable = leg.rel100 && status > 100;
        if reliable {
            leg.rseq += 1;
        }
        let rseq = leg.rseq;
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let mut headers = self.answer_headers(leg, status);
        if reliable {
            headers.push((HeaderName::Require, Bytes::from_static(b"100rel")));
            headers.push((HeaderName::RSeq, Bytes::from(rseq.to_string())));
        }
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let invite = leg.invite.clone();
        let sent = self.reply_body(
            now,
            &key,
            &invite,
            status,
            &headers,
            tag.as_deref(),
            sdp.as_ref(),
        );
        let t1 = self.timers.t1;
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            if sdp.is_some() {
                leg.local_sdp = sdp;
            }
            if reliable && let Some(bytes) = sent {
                leg.unacked = Some((rseq, bytes, t1, now + 64 * t1));
                self.calls.arm(id, now + t1, Due::Retransmit1xx);
            }
        }
        self.drain(now);
    }

    /// Answers an incoming call with 200 and `sdp`; retransmitted until the ACK.
    pub fn session_answer(&mut self, now: Instant, id: SessionId, sdp: Option<Bytes>) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let (Some(key), State::Incoming) = (leg.invite_key.clone(), leg.state) else {
            return;
        };
        let headers = self.answer_headers(leg, 200);
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let invite = leg.invite.clone();
        let sent = self.reply_body(
            now,
            &key,
            &invite,
            200,
            &headers,
            tag.as_deref(),
            sdp.as_ref(),
        );
        let t1 = self.timers.t1;
        let reliable = self
            .calls
            .legs
            .get(&id)
            .is_some_and(|l| l.flow.is_reliable());
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.state = State::Answered;
            leg.ok = sent;
            leg.ok_key = Some(key.clone());
            leg.ok_interval = t1;
            leg.ok_deadline = Some(now + 64 * t1);
            if sdp.is_some() {
                leg.local_sdp = sdp;
            }
        }
        self.calls.by_invite.remove(&key);
        // Over a reliable transport the 2xx is not retransmitted, but the ACK is still
        // awaited for 64·T1 (13.3.1.4).
        let at = if reliable { now + 64 * t1 } else { now + t1 };
        self.calls.arm(id, at, Due::Retransmit2xx);
        self.drain(now);
    }

    /// The ACK for our 2xx.
    pub(in crate::core) fn on_ack(&mut self, now: Instant, id: SessionId, request: &Request) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        if leg.state != State::Answered {
            return;
        }
        leg.state = State::Confirmed;
        leg.ok = None;
        leg.ok_key = None;
        leg.ok_deadline = None;
        leg.due = None;
        let sdp = (!request.body.is_empty()).then(|| request.body.clone());
        self.rearm_session_timer(now, id);
        self.session_event(SessionEvent::Confirmed { id, sdp });
    }

    /// A CANCEL for an incoming INVITE: 200 for it, 487 for the INVITE.
    pub(in crate::core) fn session_cancel(
        &mut self,
        now: Instant,
        cancel_key: &ServerKey,
        invite: Option<&ServerKey>,
        request: &Request,
    ) -> bool {
        let Some(id) = invite.and_then(|k| self.calls.by_invite.get(k)).copied() else {
            return false;
        };
        // The CANCEL's 200 carries the dialog's tag, as the INVITE's answers do (9.2).
        let tag = self
            .calls
            .legs
            .get(&id)
            .and_then(|l| l.dialog.as_ref())
            .map(|d| d.local_tag.clone());
        self.reply(now, cancel_key, request, 200, &[], tag.as_deref());
        let q850 =
            header(&request.headers, &HeaderName::new("Reason")).and_then(|r| q850_cause(&r));
        if let Some(leg) = self.calls.legs.get(&id)
            && let Some(k) = leg.invite_key.clone()
        {
            let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
            let invite = leg.invite.clone();
            self.reply(now, &k, &invite, 487, &[], tag.as_deref());
            self.calls.by_invite.remove(&k);
        }
        self.session_event(SessionEvent::Failed {
            id,
            status: 487,
            q850,
        });
        self.finish(now, id);
        true
    }
}
