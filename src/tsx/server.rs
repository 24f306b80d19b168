//! Server transactions (RFC 3261 17.2, with RFC 6026's Accepted state for INVITE).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timer::{TimerConfig, TimerId, TimerTable};
use super::{Output, TsxEvent, TsxKind, TsxMessage};

/// Where a server transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE only: request received, nothing sent yet.
    Trying,
    /// A provisional response was sent (INVITE starts here, with its 100 Trying).
    Proceeding,
    /// A final response was sent (non-2xx for INVITE); waiting for ACK or retransmissions.
    Completed,
    /// INVITE only: the ACK for a non-2xx arrived; absorbing ACK retransmissions.
    Confirmed,
    /// INVITE only: a 2xx was sent; INVITE retransmissions are absorbed (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// A server transaction, created when a new request arrives. Drive it with `handle_*` and the
/// TU's [`ServerTsx::send_response`], then drain [`ServerTsx::poll_output`] and re-arm one
/// timer at [`ServerTsx::poll_timeout`] after every call.
#[derive(Debug)]
pub struct ServerTsx<M> {
    kind: TsxKind,
    state: ServerState,
    reliable: bool,
    config: TimerConfig,
    /// The last response sent: re-sent when the request is retransmitted.
    last_response: Option<M>,
    timers: TimerTable,
    /// Current Timer G interval.
    interval: Duration,
    out: VecDeque<Output<M>>,
    /// The 100 (Trying) of `new` waits in `out`, alone: a final response that comes before
    /// it is drained replaces it (the TU answered at once, which is when 17.2.1 lets the
    /// 100 be left out; under overload a refused call then costs one datagram, not two).
    trying_queued: bool,
}

impl<M: TsxMessage> ServerTsx<M> {
    /// A transaction for a new request. For INVITE, `trying` is the 100 (Trying) to send at
    /// once (17.2.1: the TU cannot be trusted to answer within 200 ms); the request itself
    /// is the caller's to hand to the TU.
    pub fn new(kind: TsxKind, reliable: bool, config: TimerConfig, trying: Option<M>) -> Self {
        let mut tsx = Self {
            kind,
            state: match kind {
                TsxKind::Invite => ServerState::Proceeding,
                TsxKind::NonInvite => ServerState::Trying,
            },
            reliable,
            config,
            last_response: None,
            timers: TimerTable::default(),
            interval: config.t1,
            out: VecDeque::new(),
            trying_queued: false,
        };
        if let (TsxKind::Invite, Some(trying)) = (kind, trying) {
            tsx.out.push_back(Output::Transmit(trying.clone()));
            tsx.last_response = Some(trying);
            tsx.trying_queued = true;
        }
        tsx
    }

    /// The state.
    pub fn state(&self) -> ServerState {
        self.state
    }

    /// INVITE or not.
    pub fn kind(&self) -> TsxKind {
        self.kind
    }

    /// True once terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output<M>> {
        self.trying_queued = false;
        let o = self.out.pop_front();
        if self.out.is_empty() && self.out.capacity() > 0 {
            // Drained: a transaction waits up to 32 s in Completed (Timer J) with nothing
            // to send; its output buffer need not wait with it.
            self.out = VecDeque::new();
        }
        o
    }

    /// When [`ServerTsx::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The request arrived again: answer with the last response, or absorb it.
    pub fn handle_retransmission(&mut self) {
        match self.state {
            ServerState::Proceeding | ServerState::Completed => {
                if let Some(r) = &self.last_response {
                    self.out.push_back(Output::Transmit(r.clone()));
                }
            }
            // Trying: nothing to resend. Accepted: the TU retransmits its 2xx itself.
            // Confirmed, Terminated: absorbed.
            _ => {}
        }
    }

    /// An ACK matched this INVITE transaction.
    pub fn handle_ack(&mut self, now: Instant, ack: M) {
        match self.state {
            ServerState::Completed if self.kind == TsxKind::Invite => {
                self.timers.stop(TimerId::G);
                self.timers.stop(TimerId::H);
                self.state = ServerState::Confirmed;
                if self.reliable {
                    self.terminate();
                } else {
                    self.timers.set(TimerId::I, now + self.config.t4);
                }
            }
            // The ACK of a 2xx belongs to the dialog (RFC 6026 17.2.1).
            ServerState::Accepted => self.tell_tu(TsxEvent::Ack(ack)),
            _ => {}
        }
    }

    /// The TU answers. Responses after the final one are refused (returns false).
    pub fn send_response(&mut self, now: Instant, response: M) -> bool {
        let Some(code) = response.status() else {
            return false;
        };
        if std::mem::take(&mut self.trying_queued) && code >= 200 && self.out.len() == 1 {
            self.out.clear();
        }
        match (self.kind, self.state, code) {
            (_, ServerState::Trying | ServerState::Proceeding, 100..=199) => {
                self.state = ServerState::Proceeding;
                self.transmit(response);
            }
            (TsxKind::Invite, ServerState::Proceeding, 200..=299) => {
                self.state = ServerState::Accepted;
                self.timers.set(TimerId::L, now + self.config.t1x64());
                // Accepted resends nothing itself (the TU retransmits its 2xx): nothing to
                // keep for the 64·T1 it absorbs retransmissions.
                self.out.push_back(Output::Transmit(response));
                self.last_response = None;
            }
            // The TU retransmits its 2xx through the transaction while it lives.
            (TsxKind::Invite, ServerState::Accepted, 200..=299) => {
                self.out.push_back(Output::Transmit(response));
            }
            (TsxKind::Invite, ServerState::Proceeding, 300..) => {
                self.state = ServerState::Completed;
                if !self.reliable {
                    self.timers.set(TimerId::G, now + self.config.t1);
                }
                self.timers.set(TimerId::H, now + self.config.t1x64());
                self.transmit(response);
            }
            (TsxKind::NonInvite, ServerState::Trying | ServerState::Proceeding, 200..) => {
                self.state = ServerState::Completed;
                self.transmit(response);
                if self.reliable {
                    self.terminate();
                } else {
                    self.timers.set(TimerId::J, now + self.config.t1x64());
                }
            }
            _ => return false,
        }
        true
    }

    /// Sending failed.
    pub fn handle_transport_error(&mut self) {
        if self.is_terminated() {
            return;
        }
        self.tell_tu(TsxEvent::TransportError);
        self.terminate();
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                TimerId::G => {
                    self.interval = (self.interval * 2).min(self.config.t2);
                    self.timers.set(TimerId::G, now + self.interval);
                    if let Some(r) = &self.last_response {
                        self.out.push_back(Output::Transmit(r.clone()));
                    }
                }
                TimerId::H => {
                    // No ACK ever came.
                    self.tell_tu(TsxEvent::Timeout);
                    self.terminate();
                }
                TimerId::I | TimerId::J | TimerId::L => self.terminate(),
                _ => {}
            }
        }
    }

    fn transmit(&mut self, response: M) {
        self.out.push_back(Output::Transmit(response.clone()));
        self.last_response = Some(response);
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = ServerState::Terminated;
        self.tell_tu(TsxEvent::Terminated);
    }

    fn tell_tu(&mut self, event: TsxEvent<M>) {
        self.out.push_back(Output::Event(event));
    }
}
