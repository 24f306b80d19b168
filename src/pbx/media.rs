//! The media of channels: SDP offer/answer per leg ([`crate::sdp`]) and the RTP legs of
//! the media engine ([`crate::media`]) they configure. Media is anchored: each channel
//! has its own RTP/RTCP port pair and every SDP we send carries it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::channel::{ChannelId, Wait};
use super::{Cause, Pbx};
use crate::config::types::Endpoint;
use crate::core::Core;
use crate::media::{Encoding, LegConfig, LegId, LocalMedia, MediaEvent, OpenLeg};
use crate::sdp::{self, Answer, Negotiated, Offerer, Origin, Sdp, codec};
use crate::session::IncomingCall;
use crate::sorcery::Snapshot;

/// One channel's media.
pub struct CallMedia {
    /// The engine's leg (none once closed).
    pub leg: Option<LegId>,
    /// Our RTP address.
    pub local: Option<LocalMedia>,
    /// Our `o=` line.
    pub origin: Origin,
    /// The offer the endpoint made (inbound).
    pub remote_offer: Option<Sdp>,
    /// Our answer to it (inbound).
    pub answer: Option<Answer>,
    /// The offer we made (outbound, or inbound without an offer).
    pub our_offer: Option<Sdp>,
    /// What was agreed.
    pub negotiated: Option<Negotiated>,
    /// `rtp_symmetric`.
    pub symmetric: bool,
    /// `rtp_timeout` (0: none).
    pub rtp_timeout: u32,
    /// The caller's answer went out as early media (183) already.
    pub early: bool,
    /// The last time RTP was seen (or the media started), for rtp_timeout.
    pub since: Option<Instant>,
    /// Sounds of a Playback() still to play after the current one.
    pub playlist: Vec<Arc<crate::media::Sound>>,
    /// The address our SDP shows instead of ours (the transport's
    /// `external_media_address`, or the endpoint's `media_address`).
    pub external: Option<std::net::IpAddr>,
    /// Media flows directly between the bridged endpoints (direct_media).
    pub direct: bool,
    /// The answer the endpoint gave to our offer (outbound).
    pub remote_answer: Option<Sdp>,
}

impl CallMedia {
    /// Our SDP as sent: the external address applied, then `o=` stamped (its version
    /// moves only when the body changed).
    fn finish(&mut self, mut sdp: Sdp) -> Bytes {
        finish_sdp(self.external, &mut self.origin, &mut sdp)
    }
}

/// [`CallMedia::finish`] on an SDP kept in place: stamping is idempotent, so the offer or
/// answer a leg keeps may be the stamped one, and need not be copied to be sent.
fn finish_sdp(external: Option<std::net::IpAddr>, origin: &mut Origin, sdp: &mut Sdp) -> Bytes {
    if let Some(ip) = external {
        sdp.set_address(ip);
    }
    origin.stamp(sdp)
}

impl CallMedia {
    fn new(seed: u64, ep: &Endpoint, local: LocalMedia) -> Self {
        Self {
            leg: Some(local.leg),
            local: Some(local),
            origin: Origin::for_endpoint(seed, ep),
            remote_offer: None,
            answer: None,
            our_offer: None,
            negotiated: None,
            symmetric: ep.rtp_symmetric,
            rtp_timeout: ep.rtp_timeout,
            early: false,
            since: None,
            playlist: Vec::new(),
            external: ep.media_address.parse().ok(),
            direct: false,
            remote_answer: None,
        }
    }
}

/// An outgoing leg's offer and media.
pub struct OutgoingOffer {
    /// The SDP to send.
    pub sdp: Bytes,
    /// The leg's media.
    pub media: CallMedia,
}

fn seed(pbx: &mut Pbx) -> u64 {
    pbx.seed = pbx
        .seed
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    pbx.seed >> 1
}

fn open(pbx: &Pbx, local_ip: std::net::IpAddr, label: &str) -> Option<LocalMedia> {
    let ip = if local_ip.is_unspecified() {
        std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
    } else {
        local_ip
    };
    match pbx.shared.media.open(&OpenLeg {
        queue: pbx.queue,
        local_ip: ip,
        label: label.to_string(),
    }) {
        Ok(l) => Some(l),
        Err(e) => {
            tracing::error!("{label}: no RTP ports: {e}");
            None
        }
    }
}

/// The engine's configuration of a leg from what was agreed.
fn leg_config(m: &CallMedia, n: &Negotiated) -> LegConfig {
    let encoding = match n.codec.codec.encoding.to_ascii_uppercase().as_str() {
        "PCMU" => Encoding::Pcmu,
        "PCMA" => Encoding::Pcma,
        other => Encoding::Other(other.to_string()),
    };
    LegConfig {
        remote_rtp: n.remote_rtp,
        remote_rtcp: n.remote_rtcp,
        symmetric: m.symmetric,
        payload_type: n.codec.pt,
        encoding,
        dtmf_payload_type: n.telephone_event.as_ref().map(|t| t.pt),
        send: n.sends(),
        receive: n.receives(),
        ptime_ms: n.ptime,
    }
}

fn configure(pbx: &Pbx, m: &CallMedia) {
    if let (Some(leg), Some(n)) = (m.leg, &m.negotiated) {
        pbx.shared.media.configure(leg, leg_config(m, n));
    }
}

/// The media of a new inbound call: its offer answered (400 malformed, 488 nothing in
/// common, 503 no ports).
pub fn incoming_offer(
    pbx: &mut Pbx,
    core: &Core,
    snapshot: &Snapshot,
    call: &IncomingCall,
    name: &str,
) -> Result<CallMedia, u16> {
    let _ = core;
    let ep = snapshot.endpoint(&call.endpoint).ok_or(404u16)?;
    let offer = match &call.offer {
        Some(body) => match Sdp::parse(body) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!("{name}: malformed SDP offer: {e}");
                return Err(400);
            }
        },
        None => None,
    };
    // Our media goes where our signalling to this caller goes from (the transport's
    // address, or for a wildcard bind the local address towards the caller).
    let local_ip = match call.local.ip() {
        ip if !ip.is_unspecified() && ip != call.source.ip() => ip,
        _ if call.source.ip().is_loopback() => call.source.ip(),
        _ => local_ip_for(snapshot, call),
    };
    // The answer is made before ports are taken (a refused offer takes none); its port
    // is filled in once they are.
    let answer = match &offer {
        Some(offer) => {
            match sdp::Answerer::for_endpoint(ep, SocketAddr::new(local_ip, 9)).answer(offer) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!("{name}: {e}");
                    return Err(e.sip_status());
                }
            }
        }
        None => None,
    };
    let local = open(pbx, local_ip, name).ok_or(503u16)?;
    let mut m = CallMedia::new(seed(pbx), ep, local);
    if let Some(ip) = Core::external_media_address(snapshot, &call.transport, call.source.ip()) {
        m.external = Some(ip);
    }
    match offer.zip(answer) {
        Some((offer, mut answer)) => {
            if let Some(index) = answer.streams.first().map(|s| s.media_index) {
                answer.sdp.set_port(index, local.rtp.port());
            }
            if local.rtp.ip() != local_ip {
                answer.sdp.set_address(local.rtp.ip());
            }
            m.negotiated = answer.streams.first().cloned();
            m.remote_offer = Some(offer);
            m.answer = Some(answer);
            configure(pbx, &m);
        }
        None => {
            // A late offer: ours goes in the 200, the answer comes in the ACK.
            match Offerer::for_endpoint(ep, local.rtp).offer() {
                Ok(o) => m.our_offer = Some(o),
                Err(_) => {
                    pbx.shared.media.close(local.leg);
                    return Err(488);
                }
            }
        }
    }
    Ok(m)
}

/// Our address for media towards the caller: the transport's bound address when it is a
/// specific one, else loopback (tests) — the media engine binds the same address.
fn local_ip_for(snapshot: &Snapshot, call: &IncomingCall) -> std::net::IpAddr {
    use crate::config::types::{Kind, Object};
    if let Some(Object::Transport(t)) = snapshot
        .get(Kind::Transport, &call.transport)
        .map(|o| &o.object)
        && let Some((ip, _)) = t.bind.0
        && !ip.is_unspecified()
    {
        return ip;
    }
    if let Some(ep) = snapshot.endpoint(&call.endpoint)
        && let Ok(ip) = ep.media_address.parse()
    {
        return ip;
    }
    std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
}

/// The SDP of our 200 to an inbound call: the answer, or our late offer.
pub fn answer_sdp(ch: &mut super::channel::Channel, snapshot: &Snapshot) -> Option<Bytes> {
    let _ = snapshot;
    let CallMedia {
        answer,
        our_offer,
        external,
        origin,
        ..
    } = &mut ch.media;
    let sdp = match answer.as_mut() {
        Some(a) => &mut a.sdp,
        None => our_offer.as_mut()?,
    };
    Some(finish_sdp(*external, origin, sdp))
}

/// Progress(): 183 with our answer (early media).
pub fn early_media(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
) {
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    if ch.answered || ch.media.answer.is_none() {
        return;
    }
    let sdp = answer_sdp(ch, snapshot);
    ch.media.early = true;
    core.session_progress(now, ch.session, 183, sdp);
}

/// The SDP offer of an outgoing leg: the caller's codecs the callee allows first
/// (`outgoing_call_offer_pref`), from a new RTP leg.
pub fn outgoing_offer(
    pbx: &mut Pbx,
    snapshot: &Snapshot,
    caller: ChannelId,
    endpoint: &str,
    name: &str,
    flow: &crate::transport::Flow,
    local: SocketAddr,
) -> Option<OutgoingOffer> {
    let ep = snapshot.endpoint(endpoint)?;
    let allowed = codec::allowed(&ep.allow);
    // What the caller's offer gives, read in place (the relay's port is taken below).
    let caller_offer = pbx
        .channels
        .get(&caller)
        .and_then(|c| c.media.remote_offer.as_ref());
    let offered_event = caller_offer.and_then(sdp::offered_telephone_event);
    let mut codecs = match sdp::outgoing_codecs(caller_offer, &allowed, ep.outgoing_call_offer_pref)
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("{name}: {e}");
            return None;
        }
    };
    // The caller's negotiated codec can be transcoded between the G.711 laws: offer the
    // callee's G.711 codecs too when the caller talks one.
    let caller_law = pbx
        .channels
        .get(&caller)
        .and_then(|c| c.media.negotiated.as_ref())
        .map(|n| n.codec.codec.name);
    if matches!(caller_law, Some("ulaw" | "alaw")) {
        for a in &allowed {
            if matches!(a.codec.name, "ulaw" | "alaw")
                && !codecs.iter().any(|c| c.codec.name == a.codec.name)
            {
                codecs.push(*a);
            }
        }
    }
    if codecs.is_empty() {
        tracing::warn!("{name}: no codec in common with the caller");
        return None;
    }
    let local_media = open(pbx, local.ip(), name)?;
    let mut offerer = Offerer::new(codecs, local_media.rtp);
    offerer.telephone_event = if sdp::uses_telephone_event(ep.dtmf_mode) {
        offered_event.or(Some(101))
    } else {
        None
    };
    let mut offer = match offerer.offer() {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("{name}: {e}");
            pbx.shared.media.close(local_media.leg);
            return None;
        }
    };
    // Attributes the legs do not negotiate (a=X-..., a=label...) go along to the callee.
    let caller_audio = pbx
        .channels
        .get(&caller)
        .and_then(|c| Some((c.media.remote_offer.as_ref()?, c.media.negotiated.as_ref()?)))
        .and_then(|(o, n)| o.media.get(n.media_index));
    if let (Some(from), Some(to)) = (caller_audio, offer.media.first_mut()) {
        sdp::relay::copy_extra_attributes(from, to);
    }
    let mut media = CallMedia::new(seed(pbx), ep, local_media);
    if let Some(ip) = Core::external_media_address(snapshot, &flow.transport, flow.remote.ip()) {
        media.external = Some(ip);
    }
    let sdp = finish_sdp(media.external, &mut media.origin, &mut offer);
    media.our_offer = Some(offer);
    Some(OutgoingOffer { sdp, media })
}

/// The callee's answer (in a 183 or the 200): the leg is configured. False when the answer
/// does not fit our offer.
pub fn callee_answer(pbx: &mut Pbx, snapshot: &Snapshot, callee: ChannelId, body: &Bytes) -> bool {
    let use_ptime = pbx
        .channels
        .get(&callee)
        .and_then(|c| snapshot.endpoint(&c.endpoint))
        .is_some_and(|e| e.use_ptime);
    let Some(ch) = pbx.channels.get_mut(&callee) else {
        return false;
    };
    let Some(offer) = ch.media.our_offer.as_ref() else {
        return false;
    };
    let answer = match Sdp::parse(body) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!("{}: malformed SDP answer: {e}", ch.name);
            return false;
        }
    };
    match sdp::negotiate(offer, &answer, use_ptime) {
        Ok(streams) => {
            ch.media.negotiated = streams.into_iter().next();
            ch.media.remote_answer = Some(answer);
            let m = &ch.media;
            if let (Some(leg), Some(n)) = (m.leg, &m.negotiated) {
                pbx.shared.media.configure(leg, leg_config(m, n));
            }
            true
        }
        Err(e) => {
            tracing::warn!("{}: unusable SDP answer: {e}", ch.name);
            false
        }
    }
}

/// Early media from a callee: the caller gets a 183 with our answer and hears the callee.
pub fn early_bridge(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
    callee: ChannelId,
) {
    early_media(pbx, now, core, snapshot, caller);
    bridge(pbx, caller, callee);
}

/// Undoes an early-media bridge of a caller whose Dial() ended without an answer.
pub fn unbridge_early(pbx: &mut Pbx, caller: ChannelId) {
    if let Some(leg) = pbx.channels.get(&caller).and_then(|c| c.media.leg) {
        pbx.shared.media.unbridge(leg);
    }
}

/// Relays RTP between the two channels' legs.
pub fn bridge(pbx: &mut Pbx, a: ChannelId, b: ChannelId) {
    let la = pbx.channels.get(&a).and_then(|c| c.media.leg);
    let lb = pbx.channels.get(&b).and_then(|c| c.media.leg);
    if let (Some(la), Some(lb)) = (la, lb) {
        pbx.shared.media.bridge(la, lb);
    }
}

/// Echo().
pub fn echo(pbx: &mut Pbx, id: ChannelId) {
    if let Some(leg) = pbx.channels.get(&id).and_then(|c| c.media.leg) {
        pbx.shared.media.echo(leg);
    }
}

/// Playback(file&file2...): true when the channel now waits for the end of the sound. A
/// file that is missing is skipped with a warning (Asterisk's "Unable to find file").
pub fn playback(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
    files: &[String],
) -> bool {
    pbx.answer(now, core, snapshot, id);
    let sounds = pbx.shared.sounds.load();
    let mut found = Vec::new();
    for f in files {
        match sounds.get(f.as_str()) {
            Some(s) => found.push(s.clone()),
            None => tracing::warn!(
                "Unable to find file '{f}' in {}",
                pbx.shared.sounds_dir.display()
            ),
        }
    }
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return false;
    };
    if found.is_empty() {
        ch.set_var("PLAYBACKSTATUS", "FAILED");
        return false;
    }
    let sound = found.remove(0);
    ch.media.playlist = found;
    let Some(leg) = ch.media.leg else {
        return false;
    };
    ch.wait = Wait::Playback;
    ch.set_var("PLAYBACKSTATUS", "SUCCESS");
    pbx.shared.media.play(leg, sound);
    true
}

/// The engine's events: end of playback, DTMF to send as INFO.
pub fn on_event(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    event: MediaEvent,
) {
    match event {
        MediaEvent::PlaybackDone { leg } => {
            let id = pbx
                .channels
                .iter()
                .find(|(_, c)| c.media.leg == Some(leg))
                .map(|(id, _)| *id);
            if let Some(id) = id
                && let Some(ch) = pbx.channels.get_mut(&id)
                && ch.wait == Wait::Playback
            {
                if !ch.media.playlist.is_empty() {
                    let next = ch.media.playlist.remove(0);
                    pbx.shared.media.play(leg, next);
                    return;
                }
                ch.wait = Wait::None;
                pbx.run(now, core, snapshot, id);
            }
        }
        MediaEvent::Dtmf {
            leg,
            digit,
            duration_ms,
        } => {
            let from = pbx
                .channels
                .iter()
                .find(|(_, c)| c.media.leg == Some(leg))
                .map(|(id, c)| (*id, c.peer));
            let Some((_, Some(peer))) = from else {
                return;
            };
            let Some(p) = pbx.channels.get(&peer) else {
                return;
            };
            // The other leg has no telephone-event: DTMF goes to it as INFO.
            let body = format!("Signal={digit}\r\nDuration={duration_ms}\r\n");
            core.session_info(now, p.session, "application/dtmf-relay", Bytes::from(body));
        }
    }
}

/// An INFO from a channel's endpoint: DTMF relayed to the bridged channel (RFC 4733 when
/// it has telephone-event, else INFO again).
pub fn on_info(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    _snapshot: &Snapshot,
    id: ChannelId,
    content_type: &str,
    body: &Bytes,
) {
    let Some(digit) = parse_info(content_type, body) else {
        return;
    };
    let Some(peer) = pbx.channels.get(&id).and_then(|c| c.peer) else {
        return;
    };
    let Some(p) = pbx.channels.get(&peer) else {
        return;
    };
    let te = p
        .media
        .negotiated
        .as_ref()
        .is_some_and(|n| n.telephone_event.is_some());
    match (te, p.media.leg) {
        (true, Some(leg)) => pbx
            .shared
            .media
            .send_dtmf(leg, digit.digit, digit.duration_ms),
        _ => {
            let body = format!(
                "Signal={}\r\nDuration={}\r\n",
                digit.digit, digit.duration_ms
            );
            core.session_info(now, p.session, "application/dtmf-relay", Bytes::from(body));
        }
    }
}

/// A re-INVITE or UPDATE offer from a channel's endpoint (hold, resume, new address):
/// answered here from the same port and codecs; the leg follows the new direction.
pub fn on_offer(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
    sdp: Option<Bytes>,
) {
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    let Some(ep) = snapshot.endpoint(&ch.endpoint) else {
        core.session_answer_offer(now, ch.session, None);
        return;
    };
    let Some(local) = ch.media.local else {
        core.session_answer_offer(now, ch.session, None);
        return;
    };
    let Some(body) = sdp else {
        // A re-INVITE without SDP: we offer what we have.
        let offer = ch
            .media
            .our_offer
            .clone()
            .or_else(|| ch.media.answer.as_ref().map(|a| a.sdp.clone()));
        let body = offer.map(|o| ch.media.finish(o));
        core.session_answer_offer(now, ch.session, body);
        return;
    };
    let offer = match Sdp::parse(&body) {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!("{}: malformed SDP in re-INVITE: {e}", ch.name);
            core.session_answer_offer(now, ch.session, None);
            return;
        }
    };
    // In direct media the answer keeps pointing at the other endpoint.
    let peer_rtp = ch
        .peer
        .filter(|_| ch.media.direct)
        .and_then(|p| pbx.channels.get(&p))
        .and_then(|p| p.media.negotiated.as_ref())
        .and_then(|n| n.remote_rtp);
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    match sdp::Answerer::for_endpoint(ep, peer_rtp.unwrap_or(local.rtp)).answer(&offer) {
        Ok(answer) => {
            let out = ch.media.finish(answer.sdp.clone());
            ch.media.negotiated = answer.streams.first().cloned();
            ch.media.remote_offer = Some(offer);
            ch.media.answer = Some(answer);
            let m = &ch.media;
            if let (Some(leg), Some(n)) = (m.leg, &m.negotiated) {
                pbx.shared.media.configure(leg, leg_config(m, n));
            }
            core.session_answer_offer(now, ch.session, Some(out));
        }
        Err(e) => {
            tracing::warn!("{}: {e}", ch.name);
            core.session_answer_offer(now, ch.session, None);
        }
    }
}

/// The answer to an offer we sent within a session. A direct-media offer that was refused
/// brings both legs back through the relay.
pub fn on_offer_answered(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
    sdp: Option<Bytes>,
    status: u16,
) {
    let direct = pbx.channels.get(&id).is_some_and(|c| c.media.direct);
    if status >= 300 {
        if direct {
            let peer = pbx.channels.get(&id).and_then(|c| c.peer);
            undirect(pbx, now, core, id);
            if let Some(peer) = peer {
                undirect(pbx, now, core, peer);
                bridge(pbx, id, peer);
            }
        }
        return;
    }
    if let (Some(body), false) = (sdp, direct) {
        let _ = callee_answer(pbx, snapshot, id, &body);
    }
}

/// Points a leg in direct media back at our relay port (an offer from our address).
fn undirect(pbx: &mut Pbx, now: Instant, core: &mut Core, id: ChannelId) {
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    if !ch.media.direct {
        return;
    }
    ch.media.direct = false;
    let (Some(n), Some(local)) = (ch.media.negotiated.as_ref(), ch.media.local) else {
        return;
    };
    let Some(offer) = direct_offer(n, local.rtp) else {
        return;
    };
    let body = ch.media.finish(offer);
    let _ = core.session_offer(now, ch.session, body, false);
}

/// The answer in the ACK to our late offer; an unusable one ends the call with a BYE, as
/// Asterisk does (the ACK itself cannot be refused).
pub fn on_late_answer(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
    body: &Bytes,
) {
    if !callee_answer(pbx, snapshot, id, body) {
        pbx.hangup(now, core, snapshot, id, Cause::BEARERCAPABILITY_NOTAVAIL);
    }
}

/// rtp_timeout: an answered channel whose leg received nothing for that long is hung up.
pub fn check_rtp_timeout(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    id: ChannelId,
) {
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    if ch.media.rtp_timeout == 0 || !ch.answered {
        return;
    }
    let limit = Duration::from_secs(u64::from(ch.media.rtp_timeout));
    let last = ch
        .media
        .leg
        .and_then(|l| pbx.shared.media.stats(l))
        .and_then(|s| s.last_rx);
    let since = *ch.media.since.get_or_insert(now);
    let last = last.map_or(since, |l| l.max(since));
    if now.duration_since(last) >= limit {
        tracing::warn!(
            "Disconnecting channel '{}' for lack of RTP activity in {} seconds",
            ch.name,
            ch.media.rtp_timeout
        );
        pbx.hangup(now, core, snapshot, id, Cause::NORMAL_CLEARING);
        return;
    }
    let next = last + limit;
    pbx.arm_rtp_check(id, next);
}

/// Closes a channel's leg.
pub fn close(pbx: &mut Pbx, ch: &mut super::channel::Channel) {
    close_media(pbx, &mut ch.media);
}

/// Closes a leg.
pub fn close_media(pbx: &mut Pbx, m: &mut CallMedia) {
    if let Some(leg) = m.leg.take() {
        pbx.shared.media.close(leg);
    }
}

/// The digit of a DTMF INFO body (`application/dtmf-relay` or `application/dtmf`).
fn parse_info(content_type: &str, body: &[u8]) -> Option<crate::media::dtmf::DetectedDigit> {
    let text = std::str::from_utf8(body).ok()?;
    let ty = content_type.split(';').next().unwrap_or_default().trim();
    if ty.eq_ignore_ascii_case("application/dtmf-relay") {
        crate::media::dtmf::parse_dtmf_relay(text).ok()
    } else if ty.eq_ignore_ascii_case("application/dtmf") {
        let digit = crate::media::dtmf::parse_dtmf(text).ok()?;
        Some(crate::media::dtmf::DetectedDigit {
            digit,
            duration_ms: 100,
        })
    } else {
        None
    }
}

/// Starts the rtp_timeout watch of an answered channel.
pub fn start_rtp_watch(pbx: &mut Pbx, now: Instant, id: ChannelId) {
    let Some(ch) = pbx.channels.get_mut(&id) else {
        return;
    };
    if ch.media.rtp_timeout == 0 {
        return;
    }
    ch.media.since = Some(now);
    let at = now + Duration::from_secs(u64::from(ch.media.rtp_timeout));
    pbx.arm_rtp_check(id, at);
}

/// Direct media (endpoint `direct_media`): once both legs of a bridge are established,
/// each is sent an offer (re-INVITE, or UPDATE by `direct_media_method`) whose address is
/// the other's, so RTP flows between them without the relay. Only when both endpoints
/// allow it, both legs talk the same codec (no transcoding, the same DTMF way) and
/// neither looks NATed (`rtp_symmetric` or `rewrite_contact` set: its SDP address may not
/// be where it really receives).
pub fn maybe_direct(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    a: ChannelId,
    b: ChannelId,
) {
    let (Some(ca), Some(cb)) = (pbx.channels.get(&a), pbx.channels.get(&b)) else {
        return;
    };
    if ca.media.direct || cb.media.direct {
        return;
    }
    let (Some(ea), Some(eb)) = (
        snapshot.endpoint(&ca.endpoint),
        snapshot.endpoint(&cb.endpoint),
    ) else {
        return;
    };
    let allowed = |e: &Endpoint| e.direct_media && !e.rtp_symmetric && !e.rewrite_contact;
    if !allowed(ea) || !allowed(eb) {
        return;
    }
    let (Some(na), Some(nb)) = (&ca.media.negotiated, &cb.media.negotiated) else {
        return;
    };
    let same_codec = na
        .codec
        .codec
        .encoding
        .eq_ignore_ascii_case(nb.codec.codec.encoding)
        && na.codec.codec.clock == nb.codec.codec.clock;
    let same_dtmf = na.telephone_event.is_some() == nb.telephone_event.is_some();
    let (Some(ra), Some(rb)) = (na.remote_rtp, nb.remote_rtp) else {
        return;
    };
    if !same_codec || !same_dtmf {
        return;
    }
    let confirmed = |c: &super::channel::Channel| {
        core.session_state(c.session) == Some(crate::session::State::Confirmed)
    };
    if !confirmed(ca) || !confirmed(cb) {
        return;
    }
    let offers = [
        (a, rb, direct_offer(na, rb), ea.direct_media_method),
        (b, ra, direct_offer(nb, ra), eb.direct_media_method),
    ];
    for (id, _, offer, method) in offers {
        let Some(offer) = offer else {
            return;
        };
        let Some(ch) = pbx.channels.get_mut(&id) else {
            return;
        };
        // Our own address is not in it: the external address does not apply.
        let external = ch.media.external.take();
        let body = ch.media.finish(offer);
        ch.media.external = external;
        ch.media.direct = true;
        let update = method == crate::config::types::DirectMediaMethod::Update;
        if !core.session_offer(now, ch.session, body, update) {
            ch.media.direct = false;
        }
        tracing::debug!("{}: direct media", ch.name);
    }
    // The relay carries nothing now.
    if let Some(leg) = pbx.channels.get(&a).and_then(|c| c.media.leg) {
        pbx.shared.media.unbridge(leg);
    }
}

/// An offer with one leg's negotiated codec (and telephone-event) pointing at `to`.
fn direct_offer(n: &Negotiated, to: SocketAddr) -> Option<Sdp> {
    let mut codec = sdp::AllowedCodec::new(n.codec.codec);
    codec.pt = Some(n.codec.pt);
    let mut offerer = Offerer::new(vec![codec], to);
    offerer.telephone_event = n.telephone_event.as_ref().map(|t| t.pt);
    offerer.offer().ok()
}

/// The callee's attributes that legs do not negotiate go into the caller's answer.
pub fn carry_answer_attributes(pbx: &mut Pbx, caller: ChannelId, callee: ChannelId) {
    // Both channels at once: the callee's answer is read in place, not copied
    // (get_disjoint_mut wants two different keys).
    if caller == callee {
        return;
    }
    let [Some(from_ch), Some(to_ch)] = pbx.channels.get_disjoint_mut([&callee, &caller]) else {
        return;
    };
    let (Some(answer), Some(index), Some(n)) = (
        from_ch.media.remote_answer.as_ref(),
        from_ch.media.negotiated.as_ref().map(|n| n.media_index),
        to_ch.media.negotiated.as_ref().map(|n| n.media_index),
    ) else {
        return;
    };
    if let (Some(from), Some(to)) = (
        answer.media.get(index),
        to_ch
            .media
            .answer
            .as_mut()
            .and_then(|a| a.sdp.media.get_mut(n)),
    ) {
        sdp::relay::copy_extra_attributes(from, to);
    }
}
