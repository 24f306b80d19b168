//! Transaction state machines on virtual time, one RFC 3261 / RFC 6026 rule per test.

use std::time::{Duration, Instant};

use super::*;

/// A stand-in message: only what the machines look at.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Msg {
    Request,
    Response(u16),
    Ack(u16),
}

impl TsxMessage for Msg {
    fn status(&self) -> Option<u16> {
        match self {
            Self::Response(c) => Some(*c),
            _ => None,
        }
    }
    fn ack_for(_request: &Self, response: &Self) -> Self {
        Self::Ack(response.status().unwrap_or(0))
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Drives a transaction through virtual time, recording when each output happened.
struct Clock {
    t0: Instant,
    now: Instant,
}

impl Clock {
    fn new() -> Self {
        // The only clock read: a base for virtual time.
        let t0 = Instant::now();
        Self { t0, now: t0 }
    }
    fn at(&self) -> Duration {
        self.now - self.t0
    }
}

fn drain_client(tsx: &mut ClientTsx<Msg>, clock: &Clock, log: &mut Vec<(Duration, Output<Msg>)>) {
    while let Some(o) = tsx.poll_output() {
        log.push((clock.at(), o));
    }
}

fn drain_server(tsx: &mut ServerTsx<Msg>, clock: &Clock, log: &mut Vec<(Duration, Output<Msg>)>) {
    while let Some(o) = tsx.poll_output() {
        log.push((clock.at(), o));
    }
}

/// Runs timers until `until` (virtual), collecting outputs.
fn run_client(
    tsx: &mut ClientTsx<Msg>,
    clock: &mut Clock,
    until: Duration,
) -> Vec<(Duration, Output<Msg>)> {
    let mut log = Vec::new();
    drain_client(tsx, clock, &mut log);
    while let Some(at) = tsx.poll_timeout() {
        if at - clock.t0 > until {
            break;
        }
        clock.now = at;
        tsx.handle_timeout(at);
        drain_client(tsx, clock, &mut log);
    }
    clock.now = clock.t0 + until;
    log
}

fn run_server(
    tsx: &mut ServerTsx<Msg>,
    clock: &mut Clock,
    until: Duration,
) -> Vec<(Duration, Output<Msg>)> {
    let mut log = Vec::new();
    drain_server(tsx, clock, &mut log);
    while let Some(at) = tsx.poll_timeout() {
        if at - clock.t0 > until {
            break;
        }
        clock.now = at;
        tsx.handle_timeout(at);
        drain_server(tsx, clock, &mut log);
    }
    clock.now = clock.t0 + until;
    log
}

fn transmit_times(log: &[(Duration, Output<Msg>)], what: &Msg) -> Vec<u64> {
    log.iter()
        .filter(|(_, o)| *o == Output::Transmit(what.clone()))
        .map(|(t, _)| t.as_millis() as u64)
        .collect()
}

fn events(log: &[(Duration, Output<Msg>)]) -> Vec<(u64, TsxEvent<Msg>)> {
    log.iter()
        .filter_map(|(t, o)| match o {
            Output::Event(e) => Some((t.as_millis() as u64, e.clone())),
            Output::Transmit(_) => None,
        })
        .collect()
}

fn client(clock: &Clock, kind: TsxKind, reliable: bool) -> ClientTsx<Msg> {
    ClientTsx::new(
        clock.now,
        kind,
        Msg::Request,
        reliable,
        TimerConfig::default(),
    )
}

// ---- 17.1.1: INVITE client transaction ----

#[test]
fn rfc3261_17_1_1_2_timer_a_doubles_until_timer_b_times_out() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, false);
    let log = run_client(&mut tsx, &mut clock, Duration::from_secs(40));
    assert_eq!(
        transmit_times(&log, &Msg::Request),
        vec![0, 500, 1500, 3500, 7500, 15500, 31500]
    );
    assert_eq!(
        events(&log),
        vec![(32_000, TsxEvent::Timeout), (32_000, TsxEvent::Terminated)]
    );
}

#[test]
fn rfc3261_17_1_1_2_no_retransmission_over_reliable_transport() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, true);
    let log = run_client(&mut tsx, &mut clock, Duration::from_secs(40));
    assert_eq!(transmit_times(&log, &Msg::Request), vec![0]);
    assert_eq!(events(&log)[0], (32_000, TsxEvent::Timeout));
}

#[test]
fn rfc3261_17_1_1_2_provisional_stops_retransmissions() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, false);
    let mut log = run_client(&mut tsx, &mut clock, ms(600));
    tsx.handle_response(clock.now, Msg::Response(180));
    assert_eq!(tsx.state(), ClientState::Proceeding);
    log.extend(run_client(&mut tsx, &mut clock, Duration::from_secs(60)));
    assert_eq!(transmit_times(&log, &Msg::Request), vec![0, 500]);
    assert_eq!(
        events(&log),
        vec![(600, TsxEvent::Response(Msg::Response(180)))]
    );
    assert!(tsx.poll_timeout().is_none());
}

#[test]
fn rfc3261_17_1_1_3_non_2xx_final_is_acked_by_the_transaction() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, false);
    let _ = run_client(&mut tsx, &mut clock, ms(100));
    tsx.handle_response(clock.now, Msg::Response(486));
    let mut log = run_client(&mut tsx, &mut clock, ms(200));
    assert_eq!(tsx.state(), ClientState::Completed);
    // A retransmitted final response gets the ACK again and does not reach the TU.
    tsx.handle_response(clock.now, Msg::Response(486));
    log.extend(run_client(&mut tsx, &mut clock, Duration::from_secs(40)));
    assert_eq!(transmit_times(&log, &Msg::Ack(486)), vec![100, 200]);
    assert_eq!(
        events(&log),
        vec![
            (100, TsxEvent::Response(Msg::Response(486))),
            (32_100, TsxEvent::Terminated)
        ]
    );
}

#[test]
fn rfc3261_17_1_1_3_timer_d_is_zero_over_reliable_transport() {
    let clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, true);
    tsx.handle_response(clock.now, Msg::Response(603));
    assert!(tsx.is_terminated());
    let mut log = Vec::new();
    drain_client(&mut tsx, &clock, &mut log);
    assert_eq!(
        events(&log),
        vec![
            (0, TsxEvent::Response(Msg::Response(603))),
            (0, TsxEvent::Terminated)
        ]
    );
}

#[test]
fn rfc6026_7_2_2xx_retransmissions_reach_the_tu_until_timer_m() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::Invite, false);
    tsx.handle_response(clock.now, Msg::Response(200));
    assert_eq!(tsx.state(), ClientState::Accepted);
    let mut log = run_client(&mut tsx, &mut clock, Duration::from_secs(1));
    tsx.handle_response(clock.now, Msg::Response(200));
    log.extend(run_client(&mut tsx, &mut clock, Duration::from_secs(40)));
    assert_eq!(
        events(&log),
        vec![
            (0, TsxEvent::Response(Msg::Response(200))),
            (1000, TsxEvent::Response(Msg::Response(200))),
            (32_000, TsxEvent::Terminated)
        ]
    );
    // No ACK from the transaction for a 2xx: that is the dialog's job.
    assert!(transmit_times(&log, &Msg::Ack(200)).is_empty());
}

// ---- 17.1.2: non-INVITE client transaction ----

#[test]
fn rfc3261_17_1_2_2_timer_e_doubles_capped_at_t2_until_timer_f() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::NonInvite, false);
    let log = run_client(&mut tsx, &mut clock, Duration::from_secs(40));
    let sent = transmit_times(&log, &Msg::Request);
    assert_eq!(&sent[..6], &[0, 500, 1500, 3500, 7500, 11500]);
    // Every later interval is T2 (4 s), and the last one is before Timer F.
    assert!(
        sent.windows(2).skip(4).all(|w| w[1] - w[0] == 4000),
        "{sent:?}"
    );
    assert_eq!(events(&log)[0], (32_000, TsxEvent::Timeout));
}

#[test]
fn rfc3261_17_1_2_2_proceeding_retransmits_every_t2() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::NonInvite, false);
    let mut log = run_client(&mut tsx, &mut clock, ms(100));
    tsx.handle_response(clock.now, Msg::Response(100));
    log.extend(run_client(&mut tsx, &mut clock, ms(9000)));
    assert_eq!(
        transmit_times(&log, &Msg::Request),
        vec![0, 500, 4500, 8500]
    );
}

#[test]
fn rfc3261_17_1_2_2_final_response_then_timer_k_absorbs_retransmissions() {
    let mut clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::NonInvite, false);
    tsx.handle_response(clock.now, Msg::Response(200));
    tsx.handle_response(clock.now, Msg::Response(200));
    let log = run_client(&mut tsx, &mut clock, Duration::from_secs(10));
    assert_eq!(
        events(&log),
        vec![
            (0, TsxEvent::Response(Msg::Response(200))),
            (5000, TsxEvent::Terminated)
        ]
    );
}

#[test]
fn transport_error_terminates_and_tells_the_tu() {
    let clock = Clock::new();
    let mut tsx = client(&clock, TsxKind::NonInvite, false);
    tsx.handle_transport_error();
    let mut log = Vec::new();
    drain_client(&mut tsx, &clock, &mut log);
    assert_eq!(
        events(&log),
        vec![(0, TsxEvent::TransportError), (0, TsxEvent::Terminated)]
    );
    assert!(tsx.poll_timeout().is_none());
}

// ---- 17.2.1: INVITE server transaction ----

fn invite_server(reliable: bool) -> ServerTsx<Msg> {
    ServerTsx::new(
        TsxKind::Invite,
        reliable,
        TimerConfig::default(),
        Some(Msg::Response(100)),
    )
}

#[test]
fn rfc3261_17_2_1_trying_is_sent_at_once_and_resent_on_retransmission() {
    let mut clock = Clock::new();
    let mut tsx = invite_server(false);
    let mut log = run_server(&mut tsx, &mut clock, ms(300));
    tsx.handle_retransmission();
    log.extend(run_server(&mut tsx, &mut clock, ms(400)));
    assert!(tsx.send_response(clock.now, Msg::Response(180)));
    tsx.handle_retransmission();
    log.extend(run_server(&mut tsx, &mut clock, ms(500)));
    assert_eq!(transmit_times(&log, &Msg::Response(100)), vec![0, 300]);
    assert_eq!(transmit_times(&log, &Msg::Response(180)), vec![400, 400]);
}

#[test]
fn rfc3261_17_2_1_timer_g_resends_final_until_ack() {
    let mut clock = Clock::new();
    let mut tsx = invite_server(false);
    assert!(tsx.send_response(clock.now, Msg::Response(486)));
    let mut log = run_server(&mut tsx, &mut clock, ms(7600));
    tsx.handle_ack(clock.now, Msg::Ack(486));
    assert_eq!(tsx.state(), ServerState::Confirmed);
    tsx.handle_ack(clock.now, Msg::Ack(486));
    log.extend(run_server(&mut tsx, &mut clock, Duration::from_secs(20)));
    assert_eq!(
        transmit_times(&log, &Msg::Response(486)),
        vec![0, 500, 1500, 3500, 7500]
    );
    // Timer I (T4) after the ACK; ACK retransmissions never reach the TU.
    assert_eq!(events(&log), vec![(12_600, TsxEvent::Terminated)]);
}

#[test]
fn rfc3261_17_2_1_timer_h_gives_up_waiting_for_ack() {
    let mut clock = Clock::new();
    let mut tsx = invite_server(true);
    assert!(tsx.send_response(clock.now, Msg::Response(503)));
    let log = run_server(&mut tsx, &mut clock, Duration::from_secs(40));
    // Reliable: no Timer G.
    assert_eq!(transmit_times(&log, &Msg::Response(503)), vec![0]);
    assert_eq!(
        events(&log),
        vec![(32_000, TsxEvent::Timeout), (32_000, TsxEvent::Terminated)]
    );
}

#[test]
fn rfc6026_8_5_accepted_absorbs_invite_retransmissions_and_passes_ack() {
    let mut clock = Clock::new();
    let mut tsx = invite_server(false);
    assert!(tsx.send_response(clock.now, Msg::Response(200)));
    assert_eq!(tsx.state(), ServerState::Accepted);
    tsx.handle_retransmission();
    // The TU's own 2xx retransmission goes out through the transaction.
    assert!(tsx.send_response(clock.now, Msg::Response(200)));
    tsx.handle_ack(clock.now, Msg::Ack(200));
    let log = run_server(&mut tsx, &mut clock, Duration::from_secs(40));
    assert_eq!(transmit_times(&log, &Msg::Response(200)), vec![0, 0]);
    assert_eq!(
        events(&log),
        vec![
            (0, TsxEvent::Ack(Msg::Ack(200))),
            (32_000, TsxEvent::Terminated)
        ]
    );
}

#[test]
fn responses_after_the_final_one_are_refused() {
    let clock = Clock::new();
    let mut tsx = invite_server(false);
    assert!(tsx.send_response(clock.now, Msg::Response(404)));
    assert!(!tsx.send_response(clock.now, Msg::Response(200)));
    assert!(!tsx.send_response(clock.now, Msg::Response(180)));
    assert!(!tsx.send_response(clock.now, Msg::Request));
}

// ---- 17.2.2: non-INVITE server transaction ----

#[test]
fn rfc3261_17_2_2_retransmissions_absorbed_in_trying_answered_in_completed() {
    let mut clock = Clock::new();
    let mut tsx = ServerTsx::new(TsxKind::NonInvite, false, TimerConfig::default(), None);
    tsx.handle_retransmission();
    let mut log = run_server(&mut tsx, &mut clock, ms(100));
    assert!(tsx.send_response(clock.now, Msg::Response(200)));
    tsx.handle_retransmission();
    log.extend(run_server(&mut tsx, &mut clock, Duration::from_secs(40)));
    assert_eq!(transmit_times(&log, &Msg::Response(200)), vec![100, 100]);
    // Timer J = 64·T1.
    assert_eq!(events(&log), vec![(32_100, TsxEvent::Terminated)]);
}

#[test]
fn rfc3261_17_2_2_timer_j_is_zero_over_reliable_transport() {
    let clock = Clock::new();
    let mut tsx = ServerTsx::new(TsxKind::NonInvite, true, TimerConfig::default(), None);
    assert!(tsx.send_response(clock.now, Msg::Response(200)));
    assert!(tsx.is_terminated());
}

#[test]
fn timer_config_follows_system_settings() {
    let c = TimerConfig::new(ms(250), ms(16_000));
    assert_eq!(c.t1x64(), ms(16_000));
    let clock = Clock::new();
    let mut tsx = ClientTsx::new(clock.now, TsxKind::Invite, Msg::Request, false, c);
    assert_eq!(tsx.poll_timeout(), Some(clock.now + ms(250)));
    let _ = tsx.poll_output();
}
