//! Kernel forwarding (`[media] kernel_forwarding`): once a bridged call's two legs relay
//! plain RTP to each other (same codec and payload types, symmetric sources, nothing to
//! convert or generate), the relay asks the kernel to forward their packets itself, with
//! nftables NAT rules, as rtpengine does with its kernel module. A packet then costs one
//! conntrack lookup and a header rewrite instead of a receive and a send system call
//! (with a wake-up) in a relay thread.
//!
//! - The relay threads stay in charge: a packet that still reaches a leg's socket is relayed
//!   as before, a packet from another source takes the flow back to user space (latching
//!   decides again), and any change of the legs (hold, playback, DTMF to send, codec,
//!   unbridge, close; not the same SDP re-sent by a session refresh) removes it first.
//! - Forwarded packets are counted by the kernel; the counters are read every second (a
//!   netlink dump, `setelem.rs`) and added to the legs' (so `core show channel` and `rtp_timeout` see them). Loss is not
//!   measured while a flow is in the kernel: no sequence number is seen.
//! - RTP keeps the sender's SSRC, sequence and timestamps in the kernel (as Asterisk's
//!   native RTP bridge does): the receiver sees one new stream when the flow moves.
//! - IPv4 and IPv6 (each needs its forwarding sysctl; a leg pair of a family that is not
//!   forwarded stays in user space).
//!
//! Requirements, checked when the engine starts (otherwise the relay runs in user space and
//! says why): the `nft` program, CAP_NET_ADMIN, and `net.ipv4.ip_forward = 1` or
//! `net.ipv6.conf.all.forwarding = 1` (packets between two remote phones are forwarded,
//! not delivered locally).

mod conntrack;
mod netlink;
pub mod nft;
mod setelem;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::{debug, info, warn};

use conntrack::Tuple;

use super::LegId;

/// Why kernel forwarding is not available.
#[derive(Debug, Error)]
pub enum KernelError {
    /// Running `nft` failed.
    #[error("{0}")]
    Nft(String),
    /// The conntrack netlink socket failed.
    #[error("conntrack netlink: {0}")]
    Conntrack(#[from] std::io::Error),
    /// IP forwarding is off.
    #[error(
        "net.ipv4.ip_forward and net.ipv6.conf.all.forwarding are 0 (packets between remote phones would be dropped)"
    )]
    NoForwarding,
}

/// One direction of a forwarded flow: packets from `from` to our `local` go to `to`, sent
/// from our `via` (the other leg's socket address). All four of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The remote source.
    pub from: SocketAddr,
    /// Our socket it sends to.
    pub local: SocketAddr,
    /// The other leg's remote.
    pub to: SocketAddr,
    /// The other leg's socket.
    pub via: SocketAddr,
}

impl Flow {
    fn tuple(&self) -> Tuple {
        Tuple {
            src: self.from,
            dst: self.local,
        }
    }
}

/// The address families the kernel forwards (by their forwarding sysctls).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Families {
    /// `net.ipv4.ip_forward = 1`.
    pub v4: bool,
    /// `net.ipv6.conf.all.forwarding = 1`.
    pub v6: bool,
}

impl Families {
    /// Read from /proc/sys.
    fn current() -> Self {
        let on = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim() == "1")
                .unwrap_or(false)
        };
        Self {
            v4: on("/proc/sys/net/ipv4/ip_forward"),
            v6: on("/proc/sys/net/ipv6/conf/all/forwarding"),
        }
    }

    /// Whether flows between addresses of `addr`'s family may be installed.
    pub fn allow(&self, addr: SocketAddr) -> bool {
        if addr.is_ipv4() { self.v4 } else { self.v6 }
    }
}

/// RTP or RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// RTP.
    Rtp,
    /// RTCP.
    Rtcp,
}

/// The flows of one bridged pair of legs, installed and removed together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offload {
    /// Chosen by the relay thread; unique for the engine's life.
    pub id: u64,
    /// The relay thread owning both legs.
    pub worker: usize,
    /// Each flow with the leg that receives it.
    pub flows: Vec<(LegId, Stream, Flow)>,
}

/// What the kernel counted for one flow since it was installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The offload the flow belongs to.
    pub offload: u64,
    /// The leg that receives the flow.
    pub leg: LegId,
    /// RTP or RTCP.
    pub stream: Stream,
    /// Packets forwarded.
    pub packets: u64,
    /// Bytes forwarded.
    pub bytes: u64,
}

/// Requests to the kernel thread.
#[derive(Debug)]
pub enum Request {
    /// Install these flows.
    Install(Offload),
    /// Remove the flows of this offload.
    Remove(u64),
    /// Remove every flow and the table, and end the thread.
    Shutdown,
}

/// Receives the counters for one relay thread: (thread index, counts).
pub type CountSink = Box<dyn Fn(usize, Vec<Count>) + Send>;

/// How often the counters are read.
const POLL: Duration = Duration::from_secs(1);
/// Longest wait for more requests before a batch is applied: a call's set-up and
/// tear-down come in bursts, and each batch runs `nft` once.
const GATHER: Duration = Duration::from_millis(20);

/// The handle the relay threads use.
pub struct KernelForwarding {
    tx: Sender<Request>,
    healthy: Arc<AtomicBool>,
    families: Families,
    join: Option<JoinHandle<()>>,
}

impl KernelForwarding {
    /// Sets the table up and starts the thread applying requests. Fails (and nothing is left
    /// behind) when nftables, conntrack netlink or IP forwarding are not available.
    pub fn start(
        nft: &str,
        port_start: u16,
        port_end: u16,
        rx: Receiver<Request>,
        tx: Sender<Request>,
        sink: CountSink,
    ) -> Result<Self, KernelError> {
        let families = Families::current();
        if !families.v4 && !families.v6 {
            return Err(KernelError::NoForwarding);
        }
        let socket = netlink::Socket::open()?;
        let table = nft::table_name(port_start);
        nft::run(
            nft,
            &["-f", "-"],
            &nft::setup_script(&table, port_start, port_end),
        )?;
        let healthy = Arc::new(AtomicBool::new(true));
        let mut thread = Thread {
            nft: nft.to_string(),
            table,
            socket,
            rx,
            sink,
            installed: HashMap::new(),
            healthy: Arc::clone(&healthy),
        };
        let join = std::thread::Builder::new()
            .name("media-kernel".into())
            .spawn(move || thread.run())
            .map_err(KernelError::Conntrack)?;
        info!(
            ports = %format!("{port_start}-{port_end}"),
            ipv4 = families.v4,
            ipv6 = families.v6,
            "media: kernel forwarding on"
        );
        Ok(Self {
            tx,
            healthy,
            families,
            join: Some(join),
        })
    }

    /// Whether new flows may be installed (false after nftables failed for good), for
    /// relay threads.
    pub fn healthy_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.healthy)
    }

    /// The families forwarded.
    pub fn families(&self) -> Families {
        self.families
    }

    /// A sender for relay threads.
    pub fn sender(&self) -> Sender<Request> {
        self.tx.clone()
    }
}

impl Drop for KernelForwarding {
    fn drop(&mut self) {
        // Relay threads may still hold senders: their requests after this are ignored.
        self.healthy.store(false, Ordering::Relaxed);
        let _ = self.tx.send(Request::Shutdown);
        if let Some(j) = self.join.take() {
            let _ = j.join();
        }
    }
}

struct Thread {
    nft: String,
    table: String,
    /// Netfilter netlink: conntrack deletes and counter reads.
    socket: netlink::Socket,
    rx: Receiver<Request>,
    sink: CountSink,
    installed: HashMap<u64, Offload>,
    healthy: Arc<AtomicBool>,
}

impl Thread {
    fn run(&mut self) {
        let mut next_poll = Instant::now() + POLL;
        loop {
            let wait = next_poll.saturating_duration_since(Instant::now());
            let mut batch = Vec::new();
            match self.rx.recv_timeout(wait) {
                Ok(Request::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Ok(r) => batch.push(r),
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !batch.is_empty() {
                // Gather the rest of a burst (bounded by GATHER and by what is queued).
                let until = Instant::now() + GATHER;
                let mut shutdown = false;
                while let Ok(r) = self
                    .rx
                    .recv_timeout(until.saturating_duration_since(Instant::now()))
                {
                    if matches!(r, Request::Shutdown) {
                        shutdown = true;
                        break;
                    }
                    batch.push(r);
                    if batch.len() >= 4096 {
                        break;
                    }
                }
                if shutdown {
                    break;
                }
                self.apply(batch);
            }
            if Instant::now() >= next_poll {
                next_poll = Instant::now() + POLL;
                self.poll_counters();
            }
        }
        self.teardown();
    }

    fn apply(&mut self, batch: Vec<Request>) {
        let mut removed: Vec<Offload> = Vec::new();
        let mut added: HashMap<u64, Offload> = HashMap::new();
        for r in batch {
            match r {
                Request::Install(o) => {
                    if let Some(old) = self.installed.remove(&o.id) {
                        removed.push(old);
                    }
                    added.insert(o.id, o);
                }
                Request::Remove(id) => {
                    // Installed and removed in the same batch: nothing to do.
                    if added.remove(&id).is_none()
                        && let Some(old) = self.installed.remove(&id)
                    {
                        removed.push(old);
                    }
                }
                Request::Shutdown => {}
            }
        }
        if !self.healthy.load(Ordering::Relaxed) {
            return;
        }
        let flows = |v: &mut dyn Iterator<Item = &Offload>| -> Vec<Flow> {
            v.flat_map(|o| o.flows.iter().map(|&(_, _, f)| f)).collect()
        };
        let gone = flows(&mut removed.iter());
        let new = flows(&mut added.values());
        let script = nft::update_script(&self.table, &gone, &new);
        if script.is_empty() {
            return;
        }
        self.installed.extend(added);
        match nft::run(&self.nft, &["-f", "-"], &script) {
            Ok(_) => debug!(
                added = new.len(),
                removed = gone.len(),
                "kernel flows updated"
            ),
            Err(e) => {
                warn!(error = %e, "kernel flows update failed; reloading them all");
                self.reload();
            }
        }
        // Entries made before the NAT rules (never translated) and translated entries of
        // removed flows both go.
        let tuples: Vec<Tuple> = gone.iter().chain(&new).map(Flow::tuple).collect();
        if let Err(e) = conntrack::delete(&mut self.socket, &tuples) {
            warn!(error = %e, "cannot delete conntrack entries of kernel flows");
        }
    }

    /// Replaces the maps' contents with what is installed; gives up for good if that fails.
    fn reload(&mut self) {
        let all: Vec<Flow> = self
            .installed
            .values()
            .flat_map(|o| o.flows.iter().map(|&(_, _, f)| f))
            .collect();
        let script = nft::flush_script(&self.table) + &nft::update_script(&self.table, &[], &all);
        if let Err(e) = nft::run(&self.nft, &["-f", "-"], &script) {
            warn!(error = %e, "kernel forwarding disabled: the relay threads relay everything");
            self.healthy.store(false, Ordering::Relaxed);
            self.teardown();
        }
    }

    fn poll_counters(&mut self) {
        let flows = || self.installed.values().flat_map(|o| o.flows.iter());
        let mut read = Vec::new();
        // A netlink dump per family in use (no process to start, no text to parse).
        for family in [nft::Family::V4, nft::Family::V6] {
            if !flows().any(|&(_, _, f)| nft::Family::of(f.from) == family) {
                continue;
            }
            let set = nft::counted_set(family);
            match setelem::read(&mut self.socket, &self.table, set) {
                Ok(c) => read.extend(c),
                Err(e) => warn!(error = %e, set, "cannot read kernel flow counters"),
            }
        }
        let counters: HashMap<(SocketAddr, u16), (u64, u64)> = read
            .into_iter()
            .map(|c| ((c.from, c.port), (c.packets, c.bytes)))
            .collect();
        tracing::trace!(counters = counters.len(), "kernel flow counters read");
        let mut per_worker: HashMap<usize, Vec<Count>> = HashMap::new();
        for o in self.installed.values() {
            for &(leg, stream, f) in &o.flows {
                if let Some(&(packets, bytes)) = counters.get(&(f.from, f.local.port())) {
                    per_worker.entry(o.worker).or_default().push(Count {
                        offload: o.id,
                        leg,
                        stream,
                        packets,
                        bytes,
                    });
                }
            }
        }
        for (worker, counts) in per_worker {
            (self.sink)(worker, counts);
        }
    }

    fn teardown(&mut self) {
        let tuples: Vec<Tuple> = self
            .installed
            .drain()
            .flat_map(|(_, o)| o.flows.into_iter().map(|(_, _, f)| f.tuple()))
            .collect();
        if let Err(e) = nft::run(&self.nft, &["-f", "-"], &nft::teardown_script(&self.table)) {
            warn!(error = %e, "cannot remove the kernel forwarding table");
        }
        if let Err(e) = conntrack::delete(&mut self.socket, &tuples) {
            warn!(error = %e, "cannot delete conntrack entries of kernel flows");
        }
    }
}

#[cfg(test)]
mod tests;
