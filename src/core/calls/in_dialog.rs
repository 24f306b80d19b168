//! Requests within a session's dialog: those the peer sends (BYE, INFO, OPTIONS,
//! re-INVITE, UPDATE, PRACK) and those we send (BYE, offers, INFO).

use super::*;

impl Core {
    /// Refuses an incoming call (final non-2xx), or hangs up any other session: BYE once
    /// established, CANCEL (or a BYE after a late 2xx) for an outgoing INVITE. `q850`
    /// goes into a `Reason` header.
    pub fn session_end(&mut self, now: Instant, id: SessionId, status: u16, q850: Option<u16>) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let reason = q850.map(|c| {
            let mut value = String::from("Q.850;cause=");
            crate::sip::push_decimal(&mut value, u64::from(c));
            (HeaderName::new("Reason"), Bytes::from(value))
        });
        match leg.state {
            State::Incoming => {
                if let Some(key) = leg.invite_key.clone() {
                    let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
                    let invite = leg.invite.clone();
                    let extra: Vec<_> = reason.into_iter().collect();
                    self.reply(now, &key, &invite, status.max(300), &extra, tag.as_deref());
                    self.calls.by_invite.remove(&key);
                }
                self.finish(now, id);
            }
            State::Outgoing => {
                let provisional = leg.provisional;
                if provisional {
                    self.send_cancel(now, id, reason);
                } else if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.cancel_pending = true;
                }
            }
            State::Answered | State::Confirmed => {
                let extra: Vec<_> = reason.into_iter().collect();
                self.send_in_dialog(now, id, Method::Bye, &extra, None);
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.state = State::Ending;
                    leg.ok = None;
                }
            }
            State::Ending | State::Ended => {}
        }
        self.drain(now);
    }

    /// Answers the offer of a re-INVITE or UPDATE (`None`: refuse it with 488).
    pub fn session_answer_offer(&mut self, now: Instant, id: SessionId, sdp: Option<Bytes>) {
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            return;
        };
        let Some((key, request)) = leg.pending_offer.take() else {
            return;
        };
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        let headers = self.answer_headers(leg, 200);
        match sdp {
            Some(sdp) => {
                let sent = self.reply_body(
                    now,
                    &key,
                    &request,
                    200,
                    &headers,
                    tag.as_deref(),
                    Some(&sdp),
                );
                let t1 = self.timers.t1;
                if let Some(leg) = self.calls.legs.get_mut(&id) {
                    leg.local_sdp = Some(sdp);
                    if request.method == Method::Invite {
                        leg.state = State::Answered;
                        leg.ok = sent;
                        leg.ok_key = Some(key.clone());
                        leg.ok_interval = t1;
                        leg.ok_deadline = Some(now + 64 * t1);
                    }
                }
                if request.method == Method::Invite {
                    self.calls.arm(id, now + self.timers.t1, Due::Retransmit2xx);
                }
            }
            None => {
                self.reply(now, &key, &request, 488, &[], tag.as_deref());
            }
        }
        self.drain(now);
    }

    /// Sends an offer within an established session: a re-INVITE, or UPDATE when
    /// `update` (hold, resume, direct media). The answer comes as
    /// [`SessionEvent::OfferAnswered`].
    pub fn session_offer(&mut self, now: Instant, id: SessionId, sdp: Bytes, update: bool) -> bool {
        let ok = self
            .calls
            .legs
            .get(&id)
            .is_some_and(|l| l.state == State::Confirmed && l.offer_sent.is_none());
        if !ok {
            return false;
        }
        let method = if update {
            Method::Update
        } else {
            Method::Invite
        };
        let extra = vec![
            (HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())),
            (
                HeaderName::Supported,
                Bytes::from_static(SUPPORTED.as_bytes()),
            ),
        ];
        let rid = self.send_in_dialog(now, id, method, &extra, Some(&sdp));
        if let Some(leg) = self.calls.legs.get_mut(&id) {
            leg.offer_sent = rid;
            leg.local_sdp = Some(sdp);
        }
        if let Some(rid) = rid {
            self.calls.mark_request(rid, id);
        }
        self.drain(now);
        rid.is_some()
    }

    /// Sends an INFO within an established session.
    pub fn session_info(&mut self, now: Instant, id: SessionId, content_type: &str, body: Bytes) {
        let extra = [(
            HeaderName::ContentType,
            Bytes::from(content_type.to_string()),
        )];
        let _ = self.send_in_dialog_typed(now, id, Method::Info, &extra, Some(&body));
        self.drain(now);
    }

    /// Sends a request within a session's dialog (through a client transaction); its
    /// outcome comes back through `client_event` as a session request.
    pub(in crate::core) fn send_in_dialog(
        &mut self,
        now: Instant,
        id: SessionId,
        method: Method,
        extra: &[(HeaderName, Bytes)],
        sdp: Option<&Bytes>,
    ) -> Option<RequestId> {
        let mut extra = extra.to_vec();
        if sdp.is_some() {
            extra.push((
                HeaderName::ContentType,
                Bytes::from_static(b"application/sdp"),
            ));
        }
        self.send_in_dialog_typed(now, id, method, &extra, sdp)
    }

    pub(in crate::core) fn send_in_dialog_typed(
        &mut self,
        now: Instant,
        id: SessionId,
        method: Method,
        extra: &[(HeaderName, Bytes)],
        body: Option<&Bytes>,
    ) -> Option<RequestId> {
        let leg = self.calls.legs.get_mut(&id)?;
        let via = Self::via_for(&leg.flow, &leg.sent_by);
        let dialog = leg.dialog.as_mut()?;
        // The Content-Type goes with the body (Dialog::request writes both).
        let content_type = extra
            .iter()
            .find(|(n, _)| *n == HeaderName::ContentType)
            .map(|(_, v)| crate::sip::owned_text(v));
        let others: Vec<(HeaderName, String)> = extra
            .iter()
            .filter(|(n, _)| *n != HeaderName::ContentType)
            .map(|(n, v)| (n.clone(), crate::sip::owned_text(v)))
            .collect();
        let request = match dialog.request(
            method,
            &via,
            &others,
            body.map(|b| (content_type.as_deref().unwrap_or("application/sdp"), b)),
            None,
        ) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("cannot build a request in the dialog: {e}");
                return None;
            }
        };
        let flow = leg.flow.clone();
        let auths = leg.auths.clone();
        let rid = self.send_request(now, flow, request, auths)?;
        self.calls.mark_request(rid, id);
        Some(rid)
    }

    /// A request within a dialog (To tag) or an ACK: `true` when it belongs to a session
    /// of this core (and was handled).
    pub(in crate::core) fn session_request(
        &mut self,
        now: Instant,
        key: Option<&ServerKey>,
        request: &Request,
        flow: &Flow,
    ) -> bool {
        let Ok(to) = request.to_addr() else {
            return false;
        };
        let Some(tag) = to.tag().map(str::to_string) else {
            return false;
        };
        drop(to);
        let call_id = request.headers.call_id().unwrap_or_default().to_string();
        let dkey = DialogKey::new(&call_id, &tag);
        let Some(&id) = self.calls.by_dialog.get(&dkey) else {
            if let Some(key) = key
                && request.method != Method::Ack
            {
                self.reply(now, key, request, 481, &[], None);
            }
            return key.is_some();
        };
        let seq = request.headers.cseq().map(|c| c.seq).unwrap_or(0);
        if request.method == Method::Ack {
            self.on_ack(now, id, request);
            return true;
        }
        let Some(key) = key else {
            return true;
        };
        let Some(leg) = self.calls.legs.get_mut(&id) else {
            self.reply(now, key, request, 481, &[], None);
            return true;
        };
        let tag = leg.dialog.as_ref().map(|d| d.local_tag.clone());
        if let Some(d) = leg.dialog.as_mut()
            && !d.accept_remote_cseq(seq)
        {
            self.reply(now, key, request, 500, &[], tag.as_deref());
            return true;
        }
        if leg.rewrite_contact && leg.flow.remote != flow.remote && !flow.is_reliable() {
            leg.flow = flow.clone();
        }
        match request.method {
            Method::Bye => {
                self.reply(now, key, request, 200, &[], tag.as_deref());
                let q850 = header(&request.headers, &HeaderName::new("Reason"))
                    .and_then(|r| q850_cause(&r));
                let answered = matches!(
                    self.calls.legs.get(&id).map(|l| l.state),
                    Some(State::Answered | State::Confirmed | State::Ending)
                );
                if answered {
                    self.session_event(SessionEvent::Ended {
                        id,
                        why: EndReason::Bye,
                        q850,
                    });
                } else {
                    // A BYE in an early dialog ends the call (RFC 3261 15).
                    if let Some(k) = self.calls.legs.get(&id).and_then(|l| l.invite_key.clone()) {
                        let invite = self.calls.legs.get(&id).map(|l| l.invite.clone());
                        if let Some(invite) = invite {
                            self.reply(now, &k, &invite, 487, &[], tag.as_deref());
                        }
                    }
                    self.session_event(SessionEvent::Failed {
                        id,
                        status: 487,
                        q850,
                    });
                }
                self.finish(now, id);
            }
            Method::Info => {
                self.reply(now, key, request, 200, &[], tag.as_deref());
                let content_type =
                    header(&request.headers, &HeaderName::ContentType).unwrap_or_default();
                self.session_event(SessionEvent::Info {
                    id,
                    content_type,
                    body: request.body.clone(),
                });
            }
            Method::Options => {
                let h = [
                    (HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes())),
                    (HeaderName::Accept, Bytes::from_static(b"application/sdp")),
                    (
                        HeaderName::Supported,
                        Bytes::from_static(SUPPORTED.as_bytes()),
                    ),
                ];
                self.reply(now, key, request, 200, &h, tag.as_deref());
            }
            Method::Invite | Method::Update => {
                let busy = leg.pending_offer.is_some()
                    || leg.offer_sent.is_some()
                    || (request.method == Method::Invite && leg.state != State::Confirmed);
                if busy {
                    // Glare (RFC 3261 14.2): 491; a re-INVITE while one is pending is
                    // 500 with Retry-After (14.2) — 491 covers both for the peer.
                    self.reply(now, key, request, 491, &[], tag.as_deref());
                    return true;
                }
                if let Some(d) = leg.dialog.as_mut() {
                    d.refresh_target(&request.headers);
                }
                // A refresh of the session timer (RFC 4028: any re-INVITE/UPDATE).
                leg.timer_since = Some(now);
                leg.pending_offer = Some((key.clone(), request.clone()));
                let sdp = (!request.body.is_empty()).then(|| request.body.clone());
                self.rearm_session_timer(now, id);
                self.session_event(SessionEvent::Offer { id, sdp });
            }
            Method::Prack => {
                // RAck: response-num CSeq-num method (RFC 3262 7.2).
                let rack = header(&request.headers, &HeaderName::RAck).unwrap_or_default();
                let rseq: Option<u32> = rack.split_whitespace().next().and_then(|n| n.parse().ok());
                let matches = leg.unacked.as_ref().is_some_and(|u| Some(u.0) == rseq);
                if !matches {
                    self.reply(now, key, request, 481, &[], tag.as_deref());
                    return true;
                }
                leg.unacked = None;
                let next = if leg.queued_1xx.is_empty() {
                    None
                } else {
                    Some(leg.queued_1xx.remove(0))
                };
                self.reply(now, key, request, 200, &[], tag.as_deref());
                if let Some((status, sdp)) = next {
                    self.session_progress(now, id, status, sdp);
                }
            }
            _ => {
                let h = [(HeaderName::Allow, Bytes::from_static(ALLOW.as_bytes()))];
                self.reply(now, key, request, 405, &h, tag.as_deref());
            }
        }
        true
    }

    /// The peer no longer knows the dialog: the session ends.
    pub(in crate::core) fn lost(&mut self, now: Instant, id: SessionId) {
        self.session_event(SessionEvent::Ended {
            id,
            why: EndReason::Lost,
            q850: None,
        });
        self.finish(now, id);
    }
}
