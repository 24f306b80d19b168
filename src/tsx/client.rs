//! Client transactions (RFC 3261 17.1, with RFC 6026's Accepted state for INVITE).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::timer::{TimerConfig, TimerId, TimerTable};
use super::{Output, TsxEvent, TsxKind, TsxMessage};

/// Where a client transaction is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard (INVITE "Calling", non-INVITE "Trying").
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A final non-2xx (INVITE) or any final response (non-INVITE) arrived; absorbing
    /// retransmissions.
    Completed,
    /// INVITE only: a 2xx arrived; 2xx retransmissions still go to the TU (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

/// A client transaction. Drive it with `handle_*`, then drain [`ClientTsx::poll_output`] and
/// re-arm one timer at [`ClientTsx::poll_timeout`] after every call.
#[derive(Debug)]
pub struct ClientTsx<M> {
    kind: TsxKind,
    state: ClientState,
    reliable: bool,
    config: TimerConfig,
    /// The request, while it may be retransmitted or acknowledged (dropped once a final
    /// response came: the 64·T1 of an Accepted INVITE need only pass 2xx retransmissions
    /// up). Boxed, as is the ACK: the transaction outlives both by seconds, and a table of
    /// thousands of them should not keep room for two messages each.
    request: Option<Box<M>>,
    /// The ACK sent for a non-2xx final response, re-sent on each retransmission of it.
    ack: Option<Box<M>>,
    timers: TimerTable,
    /// Current retransmit interval (Timer A or E).
    interval: Duration,
    out: VecDeque<Output<M>>,
}

impl<M: TsxMessage> ClientTsx<M> {
    /// Starts a transaction: the request is sent at once and the timers armed.
    pub fn new(
        now: Instant,
        kind: TsxKind,
        request: M,
        reliable: bool,
        config: TimerConfig,
    ) -> Self {
        let mut tsx = Self {
            kind,
            state: ClientState::Calling,
            reliable,
            config,
            request: Some(Box::new(request.clone())),
            ack: None,
            timers: TimerTable::default(),
            interval: config.t1,
            out: VecDeque::new(),
        };
        tsx.out.push_back(Output::Transmit(request));
        let (retransmit, timeout) = match kind {
            TsxKind::Invite => (TimerId::A, TimerId::B),
            TsxKind::NonInvite => (TimerId::E, TimerId::F),
        };
        // Retransmissions only over unreliable transports (17.1.1.2, 17.1.2.2).
        if !reliable {
            tsx.timers.set(retransmit, now + config.t1);
        }
        tsx.timers.set(timeout, now + config.timeout);
        tsx
    }

    /// The state.
    pub fn state(&self) -> ClientState {
        self.state
    }

    /// INVITE or not.
    pub fn kind(&self) -> TsxKind {
        self.kind
    }

    /// True once terminated.
    pub fn is_terminated(&self) -> bool {
        self.state == ClientState::Terminated
    }

    /// The next output, if any.
    pub fn poll_output(&mut self) -> Option<Output<M>> {
        let next = self.out.pop_front();
        // Drained in a state that mostly waits (64·T1 for an Accepted INVITE): the queue's
        // buffer (room for four messages) is freed now, while still in cache.
        if next.is_none()
            && self.out.capacity() > 0
            && !matches!(self.state, ClientState::Calling | ClientState::Proceeding)
        {
            self.out = VecDeque::new();
        }
        next
    }

    /// When [`ClientTsx::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// A response matched to this transaction arrived.
    pub fn handle_response(&mut self, now: Instant, response: M) {
        let Some(code) = response.status() else {
            return;
        };
        match (self.kind, self.state, code) {
            (_, ClientState::Terminated, _) => {}
            // Provisional: stop retransmitting the INVITE; non-INVITE keeps retransmitting at
            // T2 (17.1.2.2).
            (TsxKind::Invite, ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                self.timers.stop(TimerId::A);
                self.timers.stop(TimerId::B);
                self.state = ClientState::Proceeding;
                self.tell_tu(TsxEvent::Response(response));
            }
            (TsxKind::NonInvite, ClientState::Calling | ClientState::Proceeding, 100..=199) => {
                self.state = ClientState::Proceeding;
                self.tell_tu(TsxEvent::Response(response));
            }
            // 2xx to an INVITE: the TU (dialog) acknowledges it; retransmissions of the 2xx
            // must reach the TU too, for 64·T1 (RFC 6026 Timer M).
            (TsxKind::Invite, ClientState::Calling | ClientState::Proceeding, 200..=299) => {
                self.timers.stop_all();
                self.timers.set(TimerId::M, now + self.config.t1x64());
                self.state = ClientState::Accepted;
                self.request = None;
                self.tell_tu(TsxEvent::Response(response));
            }
            (TsxKind::Invite, ClientState::Accepted, 200..=299) => {
                self.tell_tu(TsxEvent::Response(response));
            }
            // Non-2xx final to an INVITE: the transaction sends the ACK (17.1.1.3).
            (TsxKind::Invite, ClientState::Calling | ClientState::Proceeding, 300..) => {
                if let Some(request) = &self.request {
                    let ack = M::ack_for(request, &response);
                    self.out.push_back(Output::Transmit(ack.clone()));
                    self.ack = Some(Box::new(ack));
                }
                self.timers.stop_all();
                self.tell_tu(TsxEvent::Response(response));
                self.enter_completed(now, TimerId::D, Duration::from_secs(32));
            }
            (TsxKind::Invite, ClientState::Completed, 300..) => {
                // A retransmitted final response: the ACK was lost, send it again.
                if let Some(ack) = &self.ack {
                    self.out.push_back(Output::Transmit(M::clone(ack)));
                }
            }
            (TsxKind::NonInvite, ClientState::Calling | ClientState::Proceeding, 200..) => {
                self.timers.stop_all();
                self.tell_tu(TsxEvent::Response(response));
                let k = self.config.t4;
                self.enter_completed(now, TimerId::K, k);
            }
            // Everything else is a retransmission to absorb.
            _ => {}
        }
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
                TimerId::A => {
                    // INVITE retransmissions double without a cap; Timer B ends them.
                    self.interval *= 2;
                    self.timers.set(TimerId::A, now + self.interval);
                    if let Some(r) = &self.request {
                        self.out.push_back(Output::Transmit(M::clone(r)));
                    }
                }
                TimerId::E => {
                    self.interval = match self.state {
                        ClientState::Proceeding => self.config.t2,
                        _ => (self.interval * 2).min(self.config.t2),
                    };
                    self.timers.set(TimerId::E, now + self.interval);
                    if let Some(r) = &self.request {
                        self.out.push_back(Output::Transmit(M::clone(r)));
                    }
                }
                TimerId::B | TimerId::F => {
                    self.tell_tu(TsxEvent::Timeout);
                    self.terminate();
                }
                TimerId::D | TimerId::K | TimerId::M => self.terminate(),
                _ => {}
            }
        }
    }

    fn enter_completed(&mut self, now: Instant, timer: TimerId, unreliable_wait: Duration) {
        self.state = ClientState::Completed;
        self.request = None;
        // Over reliable transports there are no retransmissions to absorb (D, K = 0).
        if self.reliable {
            self.terminate();
        } else {
            self.timers.set(timer, now + unreliable_wait);
        }
    }

    fn terminate(&mut self) {
        self.timers.stop_all();
        self.state = ClientState::Terminated;
        self.tell_tu(TsxEvent::Terminated);
    }

    fn tell_tu(&mut self, event: TsxEvent<M>) {
        self.out.push_back(Output::Event(event));
    }
}
