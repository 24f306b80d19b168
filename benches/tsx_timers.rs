//! CPU cost per transaction of the transaction layer when hundreds of thousands are alive,
//! as under a calls load over UDP: each BYE-like server transaction is answered 200 at once
//! and then waits 64*T1 (32 s, Timer J) before it ends, so at RATE transactions per
//! second RATE*32 live at once (3,500 calls/s make some 14,000 transactions a second).
//!
//! Run with `cargo bench --bench tsx_timers [RATE]` (default 14000). A simulated clock
//! advances by 1/RATE per transaction for 64 simulated seconds; printed: ns per
//! transaction (CPU time of this thread) over the first 30 simulated seconds (nothing
//! expires yet) and over the last 30 (as many end as begin), medians of 3 runs. The
//! difference is what keeping and ending a transaction costs once the layer is full.
//! Asserts only that every request is answered and every transaction ends.

use std::time::{Duration, Instant};

use bytes::Bytes;

use pjsipd::sip::{Message, StatusCode, response_to};
use pjsipd::tsx::{Incoming, LayerOutput, TimerConfig, TsxLayer};

mod common;
use common::thread_cpu;

/// Runs per measurement; the median is printed.
const RUNS: usize = 3;
/// Simulated seconds per run: 32 s to fill the layer, 32 s of steady state.
const SIMULATED: u64 = 64;

fn request(n: u64) -> Message {
    let text = format!(
        "BYE sip:uac@127.0.0.1:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-{n:x};rport\r\n\
         From: <sip:uas@127.0.0.1>;tag=f{n:x}\r\n\
         To: <sip:uac@127.0.0.1>;tag=t{n:x}\r\n\
         Call-ID: {n:x}@bench\r\n\
         CSeq: 2 BYE\r\n\
         Max-Forwards: 70\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match Message::parse(Bytes::from(text)) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

/// One run: (ns per transaction while filling, ns per transaction in steady state).
fn run(rate: u64) -> (f64, f64) {
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let start = Instant::now();
    let step = Duration::from_nanos(1_000_000_000 / rate);
    let total = rate * SIMULATED;
    // Requests are parsed before the clock starts: the layer's cost is measured.
    let mut answered = 0u64;
    let mut t_fill = Duration::ZERO;
    let mut t_steady = Duration::ZERO;
    let batch = 1_000u64;
    let mut n = 0u64;
    while n < total {
        let requests: Vec<_> = (n..(n + batch).min(total)).map(request).collect();
        let c0 = thread_cpu();
        for m in requests {
            let now = start + step * u32::try_from(n).unwrap_or(u32::MAX);
            n += 1;
            layer.handle_timeout(now);
            let Message::Request(req) = m else {
                continue;
            };
            if let Incoming::NewRequest { key, request } = layer.handle_request(now, req, false) {
                let ok = response_to(&request, StatusCode::OK, None);
                layer.send_response(now, &key, ok);
            }
            while let Some(o) = layer.poll_output() {
                if matches!(o, LayerOutput::Transmit { .. }) {
                    answered += 1;
                }
            }
        }
        let spent = thread_cpu() - c0;
        // The first 30 and the last 30 simulated seconds (the 2 s between are left out).
        if n <= rate * 30 {
            t_fill += spent;
        } else if n > rate * (SIMULATED - 30) {
            t_steady += spent;
        }
    }
    assert_eq!(answered, total, "every request answered");
    layer.handle_timeout(start + Duration::from_secs(SIMULATED + 40));
    assert_eq!(layer.len(), (0, 0), "every transaction ended");
    let per = |t: Duration| t.as_nanos() as f64 / (rate * 30) as f64;
    (per(t_fill), per(t_steady))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rate: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(14_000);
    let runs: Vec<_> = (0..RUNS).map(|_| run(rate)).collect();
    let fill = median(runs.iter().map(|r| r.0).collect());
    let steady = median(runs.iter().map(|r| r.1).collect());
    println!(
        "tsx_timers: {rate} transactions/s, {} alive at most: {fill:.0} ns per transaction while filling, {steady:.0} ns once as many end as begin (+{:.0} ns to keep and end one)",
        rate * 32,
        steady - fill
    );
}
