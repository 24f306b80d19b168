//! Session timers: 2xx and reliable 1xx retransmission, RFC 4028 refresh and expiry,
//! CANCEL give-up, glare retries; the end of a session.

use super::*;

impl Core {
    /// Arms the leg's session-timer deadline from its last refresh.
    pub(in crate::core) fn rearm_session_timer(&mut self, now: Instant, id: SessionId) {
        let Some(leg) = self.calls.legs.get(&id) else {
            return;
        };
        if let Some(t) = leg.timer
            && leg.state == State::Confirmed
        {
            let since = leg.timer_since.unwrap_or(now);
            let what = match t.refresher {
                Refresher::Us => Due::Refresh,
                Refresher::Them => Due::Expire,
            };
            self.calls.arm(id, t.due(since), what);
        }
    }

    /// Runs the sessions' timers due at `now`.
    pub(in crate::core) fn session_timeouts(&mut self, now: Instant) {
        while let Some((at, id)) = self.calls.timers.pop_due(now) {
            let Some(leg) = self.calls.legs.get_mut(&id) else {
                if self.calls.late.get(&id).is_some_and(|l| l.until <= now)
                    && let Some(late) = self.calls.late.remove(&id)
                {
                    for r in &late.requests {
                        self.calls.by_request.remove(r);
                    }
                }
                continue;
            };
            // An offer refused with 491 (glare) goes again after its random wait
            // (RFC 3261 14.1).
            if let Some((retry_at, sdp, update)) = leg.retry_offer.clone()
                && retry_at == at
            {
                leg.retry_offer = None;
                if leg.state == State::Confirmed && leg.offer_sent.is_none() {
                    self.session_offer(now, id, sdp, update);
                }
                continue;
            }
            let Some((due_at, what)) = leg.due else {
                continue;
            };
            if due_at != at {
                continue;
            }
            leg.due = None;
            match what {
                Due::Retransmit1xx => {
                    let Some((rseq, bytes, interval, deadline)) = leg.unacked.clone() else {
                        continue;
                    };
                    if leg.state != State::Incoming {
                        leg.unacked = None;
                        continue;
                    }
                    if now >= deadline {
                        // No PRACK in 64·T1: the call fails (RFC 3262 3: 5xx).
                        leg.unacked = None;
                        tracing::warn!(
                            "No PRACK for reliable provisional response {rseq}; ending the call"
                        );
                        self.session_event(SessionEvent::Failed {
                            id,
                            status: 504,
                            q850: None,
                        });
                        self.session_end(now, id, 504, None);
                        continue;
                    }
                    if let Some(key) = leg.invite_key.clone() {
                        let _ = self.tsx.send_response_bytes(now, &key, bytes.clone());
                    }
                    let t2 = self.timers.t2;
                    let next = (interval * 2).min(t2);
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.unacked = Some((rseq, bytes, next, deadline));
                    }
                    self.calls
                        .arm(id, (now + next).min(deadline), Due::Retransmit1xx);
                }
                Due::Retransmit2xx => {
                    if leg.state != State::Answered {
                        continue;
                    }
                    if leg.ok_deadline.is_some_and(|d| now >= d) {
                        tracing::warn!(
                            "No ACK for the 2xx of call '{}': ending the session",
                            leg.dialog
                                .as_ref()
                                .map(|d| d.call_id.as_str())
                                .unwrap_or("")
                        );
                        leg.state = State::Confirmed;
                        self.session_event(SessionEvent::Ended {
                            id,
                            why: EndReason::NoAck,
                            q850: None,
                        });
                        self.send_in_dialog(now, id, Method::Bye, &[], None);
                        if let Some(leg) = self.calls.legs.get_mut(&id) {
                            leg.state = State::Ending;
                        }
                        continue;
                    }
                    // Through the INVITE's server transaction (Accepted state lasts as long
                    // as we retransmit): it goes where the INVITE's responses go.
                    if let (Some(ok), Some(key), false) =
                        (leg.ok.clone(), leg.ok_key.clone(), leg.flow.is_reliable())
                    {
                        let _ = self.tsx.send_response_bytes(now, &key, ok);
                    }
                    let t2 = self.timers.t2;
                    let Some(leg) = self.calls.legs.get_mut(&id) else {
                        continue;
                    };
                    leg.ok_interval = (leg.ok_interval * 2).min(t2);
                    let next = now + leg.ok_interval;
                    let next = leg.ok_deadline.map_or(next, |d| next.min(d));
                    self.calls.arm(id, next, Due::Retransmit2xx);
                }
                Due::Refresh => {
                    if leg.state != State::Confirmed || leg.offer_sent.is_some() {
                        self.calls
                            .arm(id, now + Duration::from_secs(1), Due::Refresh);
                        continue;
                    }
                    let Some(sdp) = leg.local_sdp.clone() else {
                        continue;
                    };
                    let interval = leg.timer.map(|t| t.interval.as_secs()).unwrap_or(1800);
                    let extra = vec![
                        (
                            HeaderName::new("Session-Expires"),
                            Bytes::from(format!("{interval};refresher=uac")),
                        ),
                        (
                            HeaderName::Supported,
                            Bytes::from_static(SUPPORTED.as_bytes()),
                        ),
                    ];
                    let rid = self.send_in_dialog(now, id, Method::Invite, &extra, Some(&sdp));
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.refresh_sent = rid;
                        leg.timer_since = Some(now);
                    }
                    self.rearm_session_timer(now, id);
                }
                Due::Expire => {
                    tracing::warn!(
                        "Session timer expired for call '{}'",
                        leg.dialog
                            .as_ref()
                            .map(|d| d.call_id.as_str())
                            .unwrap_or("")
                    );
                    self.session_event(SessionEvent::Ended {
                        id,
                        why: EndReason::SessionExpired,
                        q850: None,
                    });
                    self.send_in_dialog(now, id, Method::Bye, &[], None);
                    if let Some(leg) = self.calls.legs.get_mut(&id) {
                        leg.state = State::Ending;
                    }
                }
                Due::CancelGiveUp => {
                    if leg.state == State::Ending {
                        // The INVITE was cancelled but never answered finally: its
                        // transaction goes, and the session with it.
                        if let Some(rid) = leg.request {
                            self.abandon(rid);
                        }
                        self.finish(now, id);
                    }
                }
            }
        }
        self.drain(now);
    }

    /// The session is over: keep it for 32 s (late retransmissions), then forget it.
    /// The session is over: it is forgotten at once (the transactions absorb late
    /// retransmissions of requests and non-2xx responses); of an outgoing session whose 2xx
    /// we acknowledged, the ACK is kept 64·T1 to answer retransmissions of that 2xx
    /// (RFC 3261 13.2.2.4) — a few hundred bytes instead of the whole leg.
    pub(in crate::core) fn finish(&mut self, now: Instant, id: SessionId) {
        let late = self.calls.legs.get_mut(&id).and_then(|leg| {
            let ack = leg.ack.take()?;
            Some(Late {
                flow: leg.flow.clone(),
                ack,
                until: now + 64 * self.timers.t1,
                requests: std::mem::take(&mut leg.requests),
            })
        });
        self.forget(id);
        if let Some(late) = late {
            for r in &late.requests {
                self.calls.by_request.insert(*r, id);
            }
            self.calls.timers.push(late.until, id);
            self.calls.late.insert(id, late);
        }
    }

    /// Forgets a session and its dialog.
    pub(in crate::core) fn forget(&mut self, id: SessionId) {
        if let Some(leg) = self.calls.legs.remove(&id) {
            let key = match &leg.dialog {
                Some(d) => Some(DialogKey::new(&d.call_id, &d.local_tag)),
                None => {
                    let call_id = leg.invite.headers.call_id().unwrap_or_default().to_string();
                    leg.invite
                        .headers
                        .from()
                        .ok()
                        .and_then(|f| f.tag().map(|t| DialogKey::new(&call_id, t)))
                }
            };
            if let Some(key) = key {
                self.dialogs.remove(&key);
                self.calls.by_dialog.remove(&key);
            }
            if let Some(k) = leg.invite_key {
                self.calls.by_invite.remove(&k);
            }
            for r in &leg.requests {
                self.calls.by_request.remove(r);
            }
        }
    }
}
