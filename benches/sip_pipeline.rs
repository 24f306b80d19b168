//! CPU cost of one out-of-dialog OPTIONS request through the sans-IO pipeline: what the
//! daemon does per datagram of `testsuite/bench/options_vs_kamailio.sh` (UDP, identified by
//! source IP, no auth, answered 200), without sockets or tasks.
//!
//! Run with `cargo bench --bench sip_pipeline`. Prints ns per request, medians of 5 runs, of:
//! - the whole pipeline: `Distributor::route` + `Core::handle_message` (on the core of the
//!   chosen queue, as the daemon's queues do) + draining `Core::poll_transmit`;
//! - `Distributor::route` alone;
//! - `Message::parse` alone.
//!
//! Times are CPU time of the benchmark's thread (the machine may be shared).
//!
//! Every request is distinct (branch, Call-ID, From tag) and the clock does not move.
//! Out-of-dialog OPTIONS are answered without a transaction (as in the daemon), so nothing
//! accumulates; other methods would keep their transactions alive here.
//! Asserts only correctness (every request answered 200), never timings.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;

use pjsipd::auth::{NonceKey, Verifier};
use pjsipd::config::ini::MemFs;
use pjsipd::core::{Core, SharedTables, Tables};
use pjsipd::dialplan::Dialplan;
use pjsipd::distributor::{DEFAULT_QUEUES, Distributor, Route};
use pjsipd::sip::Message;
use pjsipd::sorcery::{Snapshot, Store};
use pjsipd::transport::{Flow, Received};
use pjsipd::tsx::TimerConfig;

mod common;

/// Requests per run.
const N: usize = 200_000;
/// Runs per measurement; the median is printed.
const RUNS: usize = 5;

/// The daemon benchmark's configuration (`options_vs_kamailio.sh`).
const PJSIP_CONF: &str = "[t]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:5060\n\
    [trunk]\ntype=endpoint\n[trunk-id]\ntype=identify\nendpoint=trunk\nmatch=127.0.0.2\n";
const EXTENSIONS_CONF: &str = "[default]\nexten => pbx,1,Answer()\n";

fn snapshot() -> Arc<Snapshot> {
    Store::from_config_text(PJSIP_CONF)
        .unwrap_or_else(|e| panic!("{e}"))
        .snapshot()
}

fn tables() -> SharedTables {
    let fs = MemFs::new();
    let loaded = match Dialplan::load_str(&fs, Path::new("/c/extensions.conf"), EXTENSIONS_CONF) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    Arc::new(ArcSwap::from_pointee(Tables {
        named_acls: Default::default(),
        dialplan: loaded.dialplan,
    }))
}

/// Request `n`, as SIPp's `options-200.xml` sends it (plus the Contact and Subject SIPp's
/// built-in scenarios add).
fn request(n: usize) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:pbx@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.2:5061;branch=z9hG4bK-4242-{n}-0;rport\r\n\
         From: <sip:sipp@127.0.0.2:5061>;tag=4242SIPpTag00{n}\r\n\
         To: <sip:pbx@127.0.0.1:5060>\r\n\
         Call-ID: {n}-4242@127.0.0.2\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:sipp@127.0.0.2:5061>\r\n\
         Max-Forwards: 70\r\n\
         Subject: Performance Test\r\n\
         Content-Length: 0\r\n\r\n"
    ))
}

/// CPU time of this thread: on a shared machine, wall time would count other processes.
#[derive(Clone, Copy)]
struct CpuClock(Duration);

impl CpuClock {
    fn now() -> Self {
        Self(common::thread_cpu())
    }

    fn elapsed(self) -> Duration {
        Self::now().0.saturating_sub(self.0)
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn per_request(d: Duration) -> String {
    format!("{:.0} ns", d.as_secs_f64() * 1e9 / N as f64)
}

fn main() {
    let snapshot = snapshot();
    let tables = tables();
    let source: SocketAddr = ([127, 0, 0, 2], 5061).into();
    let flow = Flow::udp("t", source);
    let requests: Vec<Bytes> = (0..N).map(request).collect();
    let received = || -> Vec<Received> {
        requests
            .iter()
            .map(|b| Received {
                flow: flow.clone(),
                bytes: b.clone(),
            })
            .collect()
    };
    let now = Instant::now();
    let unix_now = 1_700_000_000;
    let seed = 0x5eed;

    // The whole pipeline, one core per queue as in the daemon.
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let distributor = Distributor::new(DEFAULT_QUEUES, seed);
        let verifier = Verifier::new(NonceKey::from_bytes([7; 32]), "asterisk");
        let mut cores: Vec<Core> = (0..distributor.queues())
            .map(|i| {
                Core::with_verifier(
                    TimerConfig::default(),
                    verifier.sibling(),
                    seed + i as u64 + 1,
                )
                .with_tables(tables.clone())
            })
            .collect();
        let input = received();
        let mut answered = 0usize;
        let mut sent_bytes = 0usize;
        let mut first = None;
        let start = CpuClock::now();
        for rx in input {
            match distributor.route(rx) {
                Route::Queue {
                    queue,
                    flow,
                    message,
                } => {
                    if let Some(core) = cores.get_mut(queue) {
                        core.handle_message(now, unix_now, &snapshot, flow, message);
                        while let Some(t) = core.poll_transmit() {
                            answered += 1;
                            sent_bytes += t.bytes.len();
                            if first.is_none() {
                                first = Some(t.bytes);
                            }
                        }
                    }
                }
                Route::Reply(_) | Route::Dropped(_) => {}
            }
        }
        times.push(start.elapsed());
        assert_eq!(answered, N, "every request is answered once");
        let first = first.unwrap_or_default();
        assert!(
            first.starts_with(b"SIP/2.0 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&first)
        );
        assert!(sent_bytes > N * 200);
        drop(cores);
    }
    println!(
        "pipeline (route + handle_message + poll_transmit), {N} OPTIONS: {} per request (median of {RUNS})",
        per_request(median(times))
    );
    if let Some(b) = requests.first() {
        // The answer, for reading.
        let distributor = Distributor::new(DEFAULT_QUEUES, seed);
        let mut core = Core::new(TimerConfig::default(), NonceKey::from_bytes([7; 32]), 1)
            .with_tables(tables.clone());
        if let Route::Queue { flow, message, .. } = distributor.route(Received {
            flow: flow.clone(),
            bytes: b.clone(),
        }) {
            core.handle_message(now, unix_now, &snapshot, flow, message);
        }
        if let Some(t) = core.poll_transmit() {
            println!("answer:\n{}", String::from_utf8_lossy(&t.bytes).trim_end());
        }
    }

    // The distributor alone.
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let distributor = Distributor::new(DEFAULT_QUEUES, seed);
        let input = received();
        let mut queued = 0usize;
        let start = CpuClock::now();
        for rx in input {
            if let Route::Queue { .. } = distributor.route(rx) {
                queued += 1;
            }
        }
        times.push(start.elapsed());
        assert_eq!(queued, N);
    }
    println!(
        "Distributor::route alone: {} per request (median of {RUNS})",
        per_request(median(times))
    );

    // The parser alone.
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let mut ok = 0usize;
        let start = CpuClock::now();
        for b in &requests {
            if Message::parse(b.clone()).is_ok() {
                ok += 1;
            }
        }
        times.push(start.elapsed());
        assert_eq!(ok, N);
    }
    println!(
        "Message::parse alone: {} per request (median of {RUNS})",
        per_request(median(times))
    );
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
