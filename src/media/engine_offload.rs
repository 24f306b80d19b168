//! When a relay thread hands a bridged pair of legs to the kernel, and takes it back (see
//! [`crate::media::kernel`]).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::debug;

use super::{AudioPath, Leg, Mode, Worker, audio_path};
use crate::media::LegId;
use crate::media::kernel::{Count, Families, Flow, Offload, Request, Stream};

/// RTP packets a leg must have received before its pair is offloaded: the call's media has
/// settled (latching done, early re-INVITEs over).
const OFFLOAD_AFTER: u64 = 25;
/// And the last one this recently: both sides are sending now.
const RECENT: Duration = Duration::from_secs(1);

/// A usable address: a real IP and port.
fn usable(a: Option<SocketAddr>) -> Option<SocketAddr> {
    a.filter(|a| !a.ip().is_unspecified() && a.port() != 0)
}

/// Whether `leg` relays plain RTP now, so the kernel may do it.
fn plain(leg: &Leg, now: Instant) -> bool {
    leg.cfg.send
        && leg.cfg.receive
        && !leg.generating()
        && leg.dtmf_queue.is_empty()
        && leg.counters.rx_packets >= OFFLOAD_AFTER
        && leg
            .counters
            .last_rx
            .is_some_and(|t| now.saturating_duration_since(t) < RECENT)
}

/// The source a flow is keyed on: where packets come from, which must also be where they
/// go (conntrack translates the reply direction by the same entry).
fn symmetric(latch: &crate::media::latch::Latch) -> Option<SocketAddr> {
    let src = usable(latch.current())?;
    (usable(latch.destination()) == Some(src)).then_some(src)
}

/// The flows of a bridged pair `a`–`b` when the kernel can relay between them: plain RTP on
/// both, same codec, payload types and DTMF payload type (nothing to rewrite), symmetric
/// sources of one family the kernel forwards. RTCP is included when both sides' RTCP sources are known the same way
/// (otherwise the relay thread goes on relaying it, without SSRC translation).
pub(super) fn offload_flows(
    a: &Leg,
    b: &Leg,
    families: Families,
    now: Instant,
) -> Option<Vec<(LegId, Stream, Flow)>> {
    if !plain(a, now) || !plain(b, now) {
        return None;
    }
    if !matches!(audio_path(a, b), AudioPath::Same)
        || a.cfg.payload_type != b.cfg.payload_type
        || a.cfg.dtmf_payload_type != b.cfg.dtmf_payload_type
    {
        return None;
    }
    let (sa, sb) = (symmetric(&a.rtp_latch)?, symmetric(&b.rtp_latch)?);
    let (la, lb) = (usable(Some(a.local_rtp))?, usable(Some(b.local_rtp))?);
    // NAT rewrites addresses within one family.
    if ![sb, la, lb].iter().all(|x| x.is_ipv4() == sa.is_ipv4()) || !families.allow(sa) {
        return None;
    }
    let mut flows = vec![
        (
            a.id,
            Stream::Rtp,
            Flow {
                from: sa,
                local: la,
                to: sb,
                via: lb,
            },
        ),
        (
            b.id,
            Stream::Rtp,
            Flow {
                from: sb,
                local: lb,
                to: sa,
                via: la,
            },
        ),
    ];
    let rtcp = |l: SocketAddr| SocketAddr::new(l.ip(), l.port().wrapping_add(1));
    if a.counters.rtcp_rx_packets > 0
        && b.counters.rtcp_rx_packets > 0
        && let (Some(ra), Some(rb)) = (symmetric(&a.rtcp_latch), symmetric(&b.rtcp_latch))
        && ra.is_ipv4() == sa.is_ipv4()
        && rb.is_ipv4() == sa.is_ipv4()
    {
        let (ca, cb) = (rtcp(la), rtcp(lb));
        flows.push((
            a.id,
            Stream::Rtcp,
            Flow {
                from: ra,
                local: ca,
                to: rb,
                via: cb,
            },
        ));
        flows.push((
            b.id,
            Stream::Rtcp,
            Flow {
                from: rb,
                local: cb,
                to: ra,
                via: ca,
            },
        ));
    }
    Some(flows)
}

impl Worker {
    /// Offloads every bridged pair that became plain (run once a second).
    pub(super) fn offload_ready(&mut self, now: Instant) {
        let Some((tx, healthy, families)) = &self.kernel else {
            return;
        };
        if !healthy.load(Ordering::Relaxed) {
            // nftables failed for good (its thread removed everything): what was in the
            // kernel is relayed here now, and must say so.
            for slot in 0..self.legs.slots.len() {
                if let Some(leg) = self.legs.get_mut(slot)
                    && leg.offload.take().is_some()
                {
                    self.kernel_legs.fetch_sub(1, Ordering::Relaxed);
                }
            }
            return;
        }
        let (tx, families) = (tx.clone(), *families);
        for slot in 0..self.legs.slots.len() {
            let Some(leg) = self.legs.get_mut(slot) else {
                continue;
            };
            let Mode::Bridged(peer, _) = leg.mode else {
                continue;
            };
            // Each pair once, from its lower slot.
            if peer < slot || leg.offload.is_some() {
                continue;
            }
            let Some((a, b)) = self.legs.pair_mut(slot, peer) else {
                continue;
            };
            if b.offload.is_some() || !matches!(b.mode, Mode::Bridged(s, _) if s == slot) {
                continue;
            }
            let Some(flows) = offload_flows(a, b, families, now) else {
                tracing::trace!(
                    a = a.id.0,
                    b = b.id.0,
                    a_plain = plain(a, now),
                    b_plain = plain(b, now),
                    a_src = ?symmetric(&a.rtp_latch),
                    b_src = ?symmetric(&b.rtp_latch),
                    "pair not offloaded"
                );
                continue;
            };
            self.next_offload += 1;
            let id = ((self.index as u64) << 48) | self.next_offload;
            debug!(
                a = a.id.0,
                b = b.id.0,
                offload = id,
                "media pair handed to the kernel"
            );
            for l in [&mut *a, &mut *b] {
                l.offload = Some(id);
                l.kernel_seen = (0, 0, 0);
            }
            self.kernel_legs.fetch_add(2, Ordering::Relaxed);
            let _ = tx.send(Request::Install(Offload {
                id,
                worker: self.index,
                flows,
            }));
        }
    }

    /// Takes the leg in `slot` (and its peer) back from the kernel, if it was there.
    pub(super) fn unoffload(&mut self, slot: usize) {
        let Some(leg) = self.legs.get_mut(slot) else {
            return;
        };
        let Some(id) = leg.offload.take() else {
            return;
        };
        let mut legs = 1;
        if let Mode::Bridged(peer, _) = leg.mode
            && let Some(p) = self.legs.get_mut(peer)
            && p.offload == Some(id)
        {
            p.offload = None;
            legs += 1;
        }
        self.kernel_legs.fetch_sub(legs, Ordering::Relaxed);
        debug!(offload = id, "media pair back in user space");
        if let Some((tx, _, _)) = &self.kernel {
            let _ = tx.send(Request::Remove(id));
        }
    }

    /// Adds what the kernel forwarded since the last reading to the legs' counters: received
    /// on the leg, sent by its peer.
    pub(super) fn kernel_counts(&mut self, counts: &[Count], now: Instant) {
        for c in counts {
            let Some(slot) = self.legs.slot_of(c.leg) else {
                continue;
            };
            let Some(leg) = self.legs.get_mut(slot) else {
                continue;
            };
            if leg.offload != Some(c.offload) {
                continue;
            }
            let (packets, bytes) = match c.stream {
                Stream::Rtp => {
                    let p = c.packets.saturating_sub(leg.kernel_seen.0);
                    let b = c.bytes.saturating_sub(leg.kernel_seen.1);
                    leg.kernel_seen.0 = c.packets;
                    leg.kernel_seen.1 = c.bytes;
                    leg.counters.rx_packets += p;
                    leg.counters.rx_bytes += b;
                    if p > 0 {
                        leg.counters.last_rx = Some(now);
                    }
                    (p, b)
                }
                Stream::Rtcp => {
                    let p = c.packets.saturating_sub(leg.kernel_seen.2);
                    leg.kernel_seen.2 = c.packets;
                    leg.counters.rtcp_rx_packets += p;
                    (p, 0)
                }
            };
            if let Mode::Bridged(peer, _) = leg.mode
                && let Some(p) = self.legs.get_mut(peer)
            {
                match c.stream {
                    Stream::Rtp => {
                        p.counters.tx_packets += packets;
                        p.counters.tx_bytes += bytes;
                    }
                    Stream::Rtcp => p.counters.rtcp_tx_packets += packets,
                }
            }
        }
    }
}
