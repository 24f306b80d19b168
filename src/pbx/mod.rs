//! The PBX core of one queue: channels, the dialplan they run, Dial() and the two-party
//! bridges it makes, on top of the SIP core's INVITE sessions (sans-IO).
//!
//! A call enters as a [`SessionEvent::Incoming`]: the endpoint's `context` must have the
//! extension (else 404), its SDP offer must parse (else 400) and share a codec with the
//! endpoint (else 488); a [`Channel`] `PJSIP/<endpoint>-%08x` is made, with its own media
//! leg (RTP port pair), and runs the dialplan. `Dial()` makes one outgoing channel per
//! target, each an INVITE session with its own media leg; the first to answer is bridged
//! with the caller (the media engine relays RTP between the two legs) and the others are
//! cancelled. Hangups cross the bridge with their cause, mapped to and from SIP status codes
//! as chan_pjsip does ([`cause`]).
//!
//! Every channel of a call lives on the queue of the incoming INVITE: the outgoing legs'
//! dialogs are registered to that queue, so the whole call is serialized without a lock.

pub mod cause;
mod channel;
mod dial;
mod media;
#[cfg(test)]
mod tests;

use std::collections::BinaryHeap;

use foldhash::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use crate::core::Core;
use crate::dialplan::Dialplan;
use crate::dialplan::exec::{Action, CallerIdentity, Execution};
use crate::media::{MediaControl, MediaEvent};
use crate::session::{EndReason, SessionEvent, SessionId};
use crate::sorcery::Snapshot;

pub use cause::Cause;
use channel::{Channel, ChannelId, Direction, Wait};
pub use channel::{ChannelInfo, ChannelListing, ChannelRegistry};
use dial::DialState;

/// What every queue's PBX shares.
#[derive(Clone)]
pub struct PbxShared {
    /// The media engine.
    pub media: Arc<dyn MediaControl>,
    /// Where Playback() finds its files.
    pub sounds_dir: PathBuf,
    /// Every live channel, for the CLI.
    pub registry: Arc<ChannelRegistry>,
    /// The sounds of `sounds_dir`, by name without extension (loaded by the daemon).
    pub sounds: Arc<arc_swap::ArcSwap<std::collections::HashMap<String, Arc<crate::media::Sound>>>>,
    /// The channel-name counter (`-%08x`), global as in Asterisk.
    pub counter: Arc<AtomicU32>,
}

/// An operator's request about channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PbxCommand {
    /// `channel request hangup <name>` (or `all`).
    Hangup(String),
}

/// One queue's PBX.
pub struct Pbx {
    shared: PbxShared,
    queue: usize,
    next: u64,
    channels: HashMap<ChannelId, Channel>,
    by_session: HashMap<SessionId, ChannelId>,
    dials: HashMap<ChannelId, DialState>,
    /// (when, channel, kind): dial timeouts and Wait() (kind 0), rtp_timeout checks (kind
    /// 1). Stale entries are skipped.
    timers: BinaryHeap<std::cmp::Reverse<(Instant, ChannelId, u8)>>,
    /// Wall-clock seconds of the current call (contact expiries).
    unix_now: u64,
    seed: u64,
}

impl Pbx {
    /// The PBX of queue `queue`.
    pub fn new(shared: PbxShared, queue: usize, seed: u64) -> Self {
        Self {
            shared,
            queue,
            next: 0,
            channels: HashMap::default(),
            by_session: HashMap::default(),
            dials: HashMap::default(),
            timers: BinaryHeap::new(),
            unix_now: 0,
            seed,
        }
    }

    /// How many channels this queue has.
    pub fn channels(&self) -> usize {
        self.channels.len()
    }

    /// What the CLI shows of this queue's channels.
    pub fn infos(&self) -> Vec<ChannelInfo> {
        self.channels.values().map(Channel::info).collect()
    }

    /// When [`Pbx::handle_timeout`] must next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|r| r.0.0)
    }

    /// Takes the core's session events (and leaves the others to the caller).
    pub fn handle_events(&mut self, now: Instant, core: &mut Core, snapshot: &Snapshot) {
        // Bounded: each event may cause others (a hangup crossing a bridge), never without end.
        for _ in 0..10_000 {
            let Some(event) = core.poll_session_event() else {
                return;
            };
            self.on_session(now, core, snapshot, event);
        }
    }

    /// A media event of a leg of this queue.
    pub fn handle_media(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        event: MediaEvent,
    ) {
        media::on_event(self, now, core, snapshot, event);
        self.handle_events(now, core, snapshot);
    }

    /// An operator's command.
    pub fn command(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        command: &PbxCommand,
    ) -> usize {
        match command {
            PbxCommand::Hangup(name) => {
                let ids: Vec<ChannelId> = self
                    .channels
                    .iter()
                    .filter(|(_, c)| name == "all" || *c.name == **name)
                    .map(|(id, _)| *id)
                    .collect();
                for id in &ids {
                    tracing::info!("Channel {} requested to hang up", self.channel_name(*id));
                    self.hangup(now, core, snapshot, *id, Cause::NORMAL_CLEARING);
                }
                self.handle_events(now, core, snapshot);
                ids.len()
            }
        }
    }

    /// Runs the timers due.
    pub fn handle_timeout(&mut self, now: Instant, core: &mut Core, snapshot: &Snapshot) {
        while let Some(std::cmp::Reverse((at, id, kind))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(ch) = self.channels.get_mut(&id) else {
                continue;
            };
            if kind == 1 {
                if ch.rtp_due == Some(at) {
                    ch.rtp_due = None;
                    media::check_rtp_timeout(self, now, core, snapshot, id);
                }
                continue;
            }
            if ch.due != Some(at) {
                continue;
            }
            ch.due = None;
            self.on_timer(now, core, snapshot, id);
        }
        self.handle_events(now, core, snapshot);
    }

    fn arm(&mut self, id: ChannelId, at: Instant) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.due = Some(at);
            self.timers.push(std::cmp::Reverse((at, id, 0)));
        }
    }

    fn arm_rtp_check(&mut self, id: ChannelId, at: Instant) {
        if let Some(ch) = self.channels.get_mut(&id) {
            ch.rtp_due = Some(at);
            self.timers.push(std::cmp::Reverse((at, id, 1)));
        }
    }

    /// Sets the wall clock (seconds) for what follows (contact expiries).
    pub fn set_unix_now(&mut self, unix_now: u64) {
        self.unix_now = unix_now;
    }

    fn channel_name(&self, id: ChannelId) -> Arc<str> {
        self.channels
            .get(&id)
            .map_or_else(|| Arc::from(""), |c| c.name.clone())
    }

    /// A new channel's name: `PJSIP/<endpoint>-%08x`.
    fn new_name(&self, endpoint: &str) -> String {
        let n = self.shared.counter.fetch_add(1, Ordering::Relaxed);
        let mut name = ["PJSIP/", endpoint, "-"].concat();
        crate::sip::push_hex(&mut name, n.into(), 8);
        name
    }

    fn new_id(&mut self) -> ChannelId {
        self.next += 1;
        ChannelId(self.next)
    }

    fn on_session(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        event: SessionEvent,
    ) {
        if let SessionEvent::Incoming(call) = event {
            self.incoming(now, core, snapshot, *call);
            return;
        }
        let Some(&id) = self.by_session.get(&event.id()) else {
            return;
        };
        match event {
            SessionEvent::Incoming(_) => {}
            SessionEvent::Progress { status, sdp, .. } => {
                dial::on_progress(self, now, core, snapshot, id, status, sdp)
            }
            SessionEvent::Answered { sdp, .. } => {
                dial::on_answer(self, now, core, snapshot, id, sdp)
            }
            SessionEvent::Confirmed { sdp, .. } => {
                // Only a late offer (ours, in the 200) expects an answer in the ACK.
                let late = self
                    .channels
                    .get(&id)
                    .is_some_and(|c| c.media.remote_offer.is_none() && c.media.our_offer.is_some());
                if let (Some(sdp), true) = (sdp, late) {
                    media::on_late_answer(self, now, core, snapshot, id, &sdp);
                }
                if let Some(peer) = self.channels.get(&id).and_then(|c| c.peer) {
                    media::maybe_direct(self, now, core, snapshot, id, peer);
                }
            }
            SessionEvent::Failed { status, q850, .. } => {
                let cause = q850.map(Cause).unwrap_or_else(|| Cause::from_sip(status));
                let cause = if status == 487 && q850.is_none() {
                    Cause::NORMAL_CLEARING
                } else {
                    cause
                };
                self.session_gone(now, core, snapshot, id, cause, Some(status));
            }
            SessionEvent::Ended { why, q850, .. } => {
                let cause = q850.map(Cause).unwrap_or(match why {
                    EndReason::Bye => Cause::NORMAL_CLEARING,
                    EndReason::NoAck | EndReason::Lost => Cause::NORMAL_TEMPORARY_FAILURE,
                    EndReason::SessionExpired => Cause::RECOVERY_ON_TIMER_EXPIRE,
                });
                self.session_gone(now, core, snapshot, id, cause, None);
            }
            SessionEvent::Offer { sdp, .. } => media::on_offer(self, now, core, snapshot, id, sdp),
            SessionEvent::OfferAnswered { sdp, status, .. } => {
                media::on_offer_answered(self, now, core, snapshot, id, sdp, status)
            }
            SessionEvent::Info {
                content_type, body, ..
            } => media::on_info(self, now, core, snapshot, id, &content_type, &body),
        }
    }

    /// A new call from an endpoint.
    fn incoming(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        call: crate::session::IncomingCall,
    ) {
        let Some(ep) = snapshot.endpoint(&call.endpoint) else {
            core.session_end(now, call.id, 404, None);
            return;
        };
        let context = ep.context.clone();
        let tables = core.tables();
        if !tables.dialplan.exists(&context, &call.exten) {
            tracing::info!(
                "{}: Call ({}:{}) to extension '{}' rejected because extension not found in context '{}'.",
                call.endpoint,
                call.transport,
                call.source,
                call.exten,
                context
            );
            core.session_end(now, call.id, 404, None);
            return;
        }
        let id = self.new_id();
        let name = self.new_name(&call.endpoint);
        let media = match media::incoming_offer(self, core, snapshot, &call, &name) {
            Ok(m) => m,
            Err(status) => {
                core.session_end(now, call.id, status, None);
                return;
            }
        };
        let exec = Execution::start(
            &tables.dialplan,
            &context,
            &call.exten,
            CallerIdentity {
                number: call.caller.number.clone(),
                name: call.caller.name.clone(),
                presentation: call.caller.presentation,
            },
        );
        let mut ch = Channel::new(
            id,
            name.into(),
            call.endpoint.as_str().into(),
            call.id,
            Direction::Inbound,
            call.caller.clone(),
            call.exten.clone(),
            context,
            media,
            now,
        )
        .with_exec(exec)
        .with_headers(call.headers);
        ch.call_id = core.session_call_id(call.id).unwrap_or_default().into();
        self.shared.registry.insert(self.queue, ch.name.clone());
        self.by_session.insert(call.id, id);
        self.channels.insert(id, ch);
        self.run(now, core, snapshot, id);
    }

    /// Runs a channel's dialplan until it waits for something.
    fn run(&mut self, now: Instant, core: &mut Core, snapshot: &Snapshot, id: ChannelId) {
        let tables = core.tables();
        let dialplan: &Dialplan = &tables.dialplan;
        // Each action either waits (return) or continues; bounded so that a dialplan of
        // actions that never wait (Answer, Ringing...) cannot spin.
        for _ in 0..1000 {
            let Some(ch) = self.channels.get_mut(&id) else {
                return;
            };
            if ch.wait != Wait::None {
                return;
            }
            let Some(mut exec) = ch.exec.take() else {
                return;
            };
            let mut data = channel::Data::new(ch, core, snapshot);
            let action = exec.run(dialplan, &mut data);
            let added = data.take_added_headers();
            if let Some(ch) = self.channels.get_mut(&id) {
                // What the CLI shows: the application now running and where it is.
                ch.location = Some(channel::location(
                    exec.exten(),
                    exec.context(),
                    exec.priority().saturating_sub(1),
                ));
                ch.app = describe(&action);
                ch.exec = Some(exec);
                ch.add_headers.extend(added);
            }
            match action {
                Action::Answer => self.answer(now, core, snapshot, id),
                Action::Ringing => {
                    if let Some(ch) = self.channels.get_mut(&id)
                        && !ch.answered
                    {
                        core.session_progress(now, ch.session, 180, None);
                        ch.set_state("Ringing");
                    }
                }
                Action::Progress => media::early_media(self, now, core, snapshot, id),
                Action::Hangup { cause } => {
                    // Without a cause, the one Dial() left (a busy callee makes a busy
                    // caller), as the channel's hangupcause in Asterisk.
                    let cause = cause
                        .or_else(|| self.channels.get(&id).and_then(|c| c.hangup_cause))
                        .unwrap_or(Cause::NORMAL_CLEARING);
                    self.hangup(now, core, snapshot, id, cause);
                    return;
                }
                Action::Busy { .. } => {
                    self.hangup(now, core, snapshot, id, Cause::USER_BUSY);
                    return;
                }
                Action::Congestion { .. } => {
                    self.hangup(now, core, snapshot, id, Cause::CONGESTION);
                    return;
                }
                Action::Dial(args) => {
                    if dial::start(self, now, core, snapshot, id, &args) {
                        return;
                    }
                }
                Action::Playback { files, .. } => {
                    if media::playback(self, now, core, snapshot, id, &files) {
                        return;
                    }
                }
                Action::Echo => {
                    self.answer(now, core, snapshot, id);
                    media::echo(self, id);
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.wait = Wait::Forever;
                    }
                    return;
                }
                Action::Wait(d) => {
                    if let Some(ch) = self.channels.get_mut(&id) {
                        ch.wait = Wait::Timer;
                    }
                    self.arm(id, now + d);
                    return;
                }
                Action::UserEvent { name, fields } => user_event(&name, &fields),
                Action::End { reason } => {
                    let cause = match reason {
                        crate::dialplan::exec::EndReason::InvalidExtension { .. } => {
                            Cause::UNALLOCATED
                        }
                        _ => self
                            .channels
                            .get(&id)
                            .and_then(|c| c.hangup_cause)
                            .unwrap_or(Cause::NORMAL_CLEARING),
                    };
                    self.hangup(now, core, snapshot, id, cause);
                    return;
                }
            }
        }
        tracing::warn!(
            "Channel {} ran 1000 applications without waiting; hanging up",
            self.channel_name(id)
        );
        self.hangup(now, core, snapshot, id, Cause::NORMAL_TEMPORARY_FAILURE);
    }

    /// Answers an inbound channel (200 with our SDP answer) if not answered yet.
    fn answer(&mut self, now: Instant, core: &mut Core, snapshot: &Snapshot, id: ChannelId) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        if ch.answered || ch.direction != Direction::Inbound {
            return;
        }
        ch.answered = true;
        ch.answered_at = Some(now);
        ch.set_state("Up");
        let sdp = media::answer_sdp(ch, snapshot);
        core.session_answer(now, ch.session, sdp);
        media::start_rtp_watch(self, now, id);
    }

    /// A channel's timer.
    fn on_timer(&mut self, now: Instant, core: &mut Core, snapshot: &Snapshot, id: ChannelId) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        match ch.wait {
            Wait::Timer => {
                ch.wait = Wait::None;
                self.run(now, core, snapshot, id);
            }
            Wait::Dial => dial::timeout(self, now, core, snapshot, id),
            _ => {}
        }
    }

    /// The SIP session of a channel is over (failed or ended): the channel goes, and its
    /// call reacts (a caller whose callee failed goes on with its dialplan, a bridge
    /// partner is hung up).
    fn session_gone(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        id: ChannelId,
        cause: Cause,
        status: Option<u16>,
    ) {
        let Some(ch) = self.channels.get_mut(&id) else {
            return;
        };
        ch.session_over = true;
        ch.hangup_cause = Some(cause);
        if let Some(caller) = ch.dialed_by {
            dial::callee_gone(self, now, core, snapshot, caller, id, cause, status);
            return;
        }
        self.hangup(now, core, snapshot, id, cause);
    }

    /// Hangs a channel up with `cause`: its SIP session ends (reject, CANCEL or BYE), its
    /// media leg closes, its dial attempts are cancelled and its bridge partner is hung up
    /// with the same cause.
    fn hangup(
        &mut self,
        now: Instant,
        core: &mut Core,
        snapshot: &Snapshot,
        id: ChannelId,
        cause: Cause,
    ) {
        let Some(mut ch) = self.channels.remove(&id) else {
            return;
        };
        if !ch.session_over {
            // An unanswered inbound call is refused with the cause's status (603 when
            // chan_pjsip has none); the others get BYE or CANCEL.
            let status = if ch.answered || ch.direction == Direction::Outbound {
                0
            } else {
                cause.to_sip().unwrap_or(603)
            };
            core.session_end(now, ch.session, status, Some(cause.code()));
        }
        self.by_session.remove(&ch.session);
        media::close(self, &mut ch);
        self.shared.registry.remove(&ch.name);
        tracing::debug!("Hungup '{}' ({})", ch.name, cause.name());
        run_hangup_extension(core, snapshot, &mut ch, cause);
        // Callees still ringing for it.
        if let Some(d) = self.dials.remove(&id) {
            for callee in d.callees {
                if let Some(c) = self.channels.get_mut(&callee) {
                    c.dialed_by = None;
                }
                self.hangup(now, core, snapshot, callee, Cause::NORMAL_CLEARING);
            }
        }
        // The other side of its bridge.
        if let Some(peer) = ch.peer.take() {
            if let Some(p) = self.channels.get_mut(&peer) {
                p.peer = None;
                p.peer_name = None;
                p.hangup_cause = Some(cause);
            }
            let continues = self
                .channels
                .get(&peer)
                .is_some_and(|p| p.direction == Direction::Inbound && p.continue_on_peer_hangup);
            if continues {
                if let Some(p) = self.channels.get_mut(&peer) {
                    p.wait = Wait::None;
                }
                self.run(now, core, snapshot, peer);
            } else {
                self.hangup(now, core, snapshot, peer, cause);
            }
        }
        // A caller whose callee this was.
        if let Some(caller) = ch.dialed_by {
            dial::callee_gone(self, now, core, snapshot, caller, id, cause, None);
        }
    }
}

/// Runs the `h` extension of a channel that ran the dialplan and is now hung up (its
/// SIP session and media are gone): variables, DIALSTATUS and HANGUPCAUSE as they were.
/// Only what needs no channel is performed (UserEvent); any other action ends the walk,
/// as Asterisk's applications fail on a hung-up channel.
fn run_hangup_extension(core: &Core, snapshot: &Snapshot, ch: &mut Channel, cause: Cause) {
    let Some(mut exec) = ch.exec.take() else {
        return;
    };
    exec.set_hangup_cause(cause);
    let tables = core.tables();
    if !exec.start_hangup_extension(&tables.dialplan) {
        return;
    }
    // Each UserEvent returns to this loop; bounded like `Pbx::run`.
    for _ in 0..1000 {
        let mut data = channel::Data::new(ch, core, snapshot);
        match exec.run(&tables.dialplan, &mut data) {
            Action::UserEvent { name, fields } => user_event(&name, &fields),
            Action::End { .. } => return,
            other => {
                tracing::debug!(
                    "Channel '{}': {} in the h extension needs the hung-up channel; done",
                    ch.name,
                    describe(&other).0
                );
                return;
            }
        }
    }
}

/// A dialplan UserEvent: logged under its own target (the manager's event stream).
fn user_event(name: &str, fields: &[(String, String)]) {
    let fields: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    tracing::info!(target: "pjsipd::userevent", "UserEvent {} {}", name, fields.join(", "));
}

/// The application name and data an action shows in `core show channels`.
fn describe(action: &Action) -> (String, String) {
    let (app, data) = match action {
        Action::Answer => ("Answer", String::new()),
        Action::Ringing => ("Ringing", String::new()),
        Action::Progress => ("Progress", String::new()),
        Action::Hangup { cause } => (
            "Hangup",
            cause.map(|c| c.code().to_string()).unwrap_or_default(),
        ),
        Action::Busy { .. } => ("Busy", String::new()),
        Action::Congestion { .. } => ("Congestion", String::new()),
        Action::Dial(args) => (
            "Dial",
            args.targets
                .iter()
                .map(|t| format!("{}/{}", t.tech, t.resource))
                .collect::<Vec<_>>()
                .join("&"),
        ),
        Action::Playback { files, .. } => ("Playback", files.join("&")),
        Action::Echo => ("Echo", String::new()),
        Action::Wait(d) => ("Wait", d.as_secs_f64().to_string()),
        Action::UserEvent { name, .. } => ("UserEvent", name.clone()),
        Action::End { .. } => ("", String::new()),
    };
    (app.to_string(), data)
}
