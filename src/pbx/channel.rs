//! Channels: one call leg as the PBX sees it (Asterisk's `ast_channel` with chan_pjsip as
//! its technology), and the registry the CLI lists them from.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::media::CallMedia;
use crate::core::Core;
use crate::dialplan::exec::{ChannelData, Execution};
use crate::session::{Party, SessionId};
use crate::sorcery::Snapshot;

/// A channel of one queue's PBX.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelId(pub u64);

/// Which way the call went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The endpoint called us.
    Inbound,
    /// We called the endpoint (Dial).
    Outbound,
}

/// What a channel's dialplan waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Nothing: it runs.
    None,
    /// Dial(): an answer, every callee failing, or the timeout.
    Dial,
    /// Wait(): its timer.
    Timer,
    /// Playback(): the end of the sound.
    Playback,
    /// Echo(), or a bridge: only a hangup ends it.
    Forever,
}

/// One channel.
pub struct Channel {
    pub name: Arc<str>,
    /// `${UNIQUEID}`.
    pub unique_id: String,
    pub endpoint: Arc<str>,
    pub session: SessionId,
    pub direction: Direction,
    pub caller: Party,
    /// The SIP Call-ID of its session (for `core show channel`).
    pub call_id: Arc<str>,
    pub exten: String,
    pub context: String,
    pub state: &'static str,
    pub answered: bool,
    pub answered_at: Option<Instant>,
    pub exec: Option<Execution>,
    pub wait: Wait,
    pub due: Option<Instant>,
    pub rtp_due: Option<Instant>,
    pub media: CallMedia,
    /// The bridged channel.
    pub peer: Option<ChannelId>,
    /// The caller that dialed this (outbound) channel, while its Dial() runs.
    pub dialed_by: Option<ChannelId>,
    /// The SIP session is already over (nothing to send when hanging up).
    pub session_over: bool,
    pub hangup_cause: Option<super::Cause>,
    /// Dial()'s `g` option: go on in the dialplan when the callee hangs up.
    pub continue_on_peer_hangup: bool,
    /// The INVITE's header fields (PJSIP_HEADER(read)).
    pub headers: crate::sip::Headers,
    /// Fields PJSIP_HEADER(add) set, for the INVITEs this channel's Dial() sends.
    pub add_headers: Vec<(String, String)>,
    /// The application running and its data (for the CLI).
    pub app: (String, String),
    /// Where that application is (`exten@context:priority`).
    pub location: Option<String>,
    /// The bridged channel's name (for the CLI).
    pub peer_name: Option<Arc<str>>,
    /// Variables set by the PBX (DIALSTATUS...) while no execution runs.
    vars: BTreeMap<String, String>,
}

impl Channel {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ChannelId,
        name: Arc<str>,
        endpoint: Arc<str>,
        session: SessionId,
        direction: Direction,
        caller: Party,
        exten: String,
        context: String,
        media: CallMedia,
        now: Instant,
    ) -> Self {
        let _ = (id, now);
        Self {
            unique_id: name.rsplit('-').next().unwrap_or_default().to_string(),
            name,
            endpoint,
            session,
            direction,
            caller,
            call_id: Arc::from(""),
            exten,
            context,
            state: if direction == Direction::Inbound {
                "Ring"
            } else {
                "Down"
            },
            answered: false,
            answered_at: None,
            exec: None,
            wait: Wait::None,
            due: None,
            rtp_due: None,
            media,
            peer: None,
            dialed_by: None,
            session_over: false,
            hangup_cause: None,
            continue_on_peer_hangup: false,
            headers: crate::sip::Headers::new(),
            add_headers: Vec::new(),
            app: (String::new(), String::new()),
            location: None,
            peer_name: None,
            vars: BTreeMap::new(),
        }
    }

    /// Takes the caller identity the dialplan has now (`Set(CALLERID(...)=...)`), which is
    /// what Dial() presents to the callees (app_dial copies the caller to their connected
    /// line).
    pub fn sync_caller(&mut self) {
        if let Some(c) = self.exec.as_ref().map(Execution::caller) {
            self.caller = Party {
                number: c.number.clone(),
                name: c.name.clone(),
                presentation: c.presentation,
            };
        }
    }

    pub fn with_exec(mut self, exec: Execution) -> Self {
        self.exec = Some(exec);
        self
    }

    pub fn with_headers(mut self, headers: crate::sip::Headers) -> Self {
        self.headers = headers;
        self
    }

    pub fn set_state(&mut self, state: &'static str) {
        self.state = state;
    }

    /// Sets a channel variable (in the running dialplan when there is one).
    pub fn set_var(&mut self, name: &str, value: &str) {
        match self.exec.as_mut() {
            Some(e) => e.set_var(name, value),
            None => {
                self.vars.insert(name.to_string(), value.to_string());
            }
        }
    }

    /// What the CLI shows of it.
    pub fn info(&self) -> ChannelInfo {
        let location = match (&self.location, &self.exec) {
            (Some(l), _) => l.clone(),
            (None, Some(e)) => location(e.exten(), e.context(), e.priority()),
            (None, None) => location(&self.exten, &self.context, 1),
        };
        let (app, data) = self.app.clone();
        ChannelInfo {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            location,
            state: self.state,
            application: app,
            data,
            caller: self.caller.clone(),
            call_id: self.call_id.clone(),
            peer: self.peer_name.clone(),
            leg: self.media.leg,
        }
    }
}

/// A channel as `core show channels` lists it.
#[derive(Clone, Debug)]
pub struct ChannelInfo {
    /// `PJSIP/6001-00000001`.
    pub name: Arc<str>,
    /// The endpoint.
    pub endpoint: Arc<str>,
    /// `exten@context:priority`.
    pub location: String,
    /// Ring, Ringing, Up, Down.
    pub state: &'static str,
    /// The application running.
    pub application: String,
    /// Its arguments.
    pub data: String,
    /// The caller.
    pub caller: Party,
    /// The SIP Call-ID of its session.
    pub call_id: Arc<str>,
    /// The bridged channel's name.
    pub peer: Option<Arc<str>>,
    /// The media leg.
    pub leg: Option<crate::media::LegId>,
}

/// The channels of every queue, for a listing.
#[derive(Clone, Debug, Default)]
pub struct ChannelListing {
    /// By name.
    pub channels: Vec<ChannelInfo>,
    /// Queues that did not answer in time (their channels are missing).
    pub unanswered: usize,
}

/// Where a channel is in the dialplan, as the CLI shows it: `exten@context:priority`
/// (written without `fmt`: it is updated at every application).
pub(crate) fn location(exten: &str, context: &str, priority: u32) -> String {
    let mut l = [exten, "@", context, ":"].concat();
    crate::sip::push_decimal(&mut l, u64::from(priority));
    l
}

/// Which queue every live channel is on, by name: what the CLI needs to reach a channel
/// (`channel request hangup`) and to count them. What a listing shows is asked of the
/// queues ([`crate::pbx::Pbx::infos`]) when it is wanted: kept here, it was copied
/// (some 30 strings) at every step of every call, under this one lock.
#[derive(Debug, Default)]
pub struct ChannelRegistry {
    channels: Mutex<foldhash::HashMap<Arc<str>, usize>>,
}

impl ChannelRegistry {
    /// Records a new channel of queue `queue`.
    pub fn insert(&self, queue: usize, name: Arc<str>) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name, queue);
    }

    /// Forgets a channel.
    pub fn remove(&self, name: &str) {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name);
    }

    /// The queue a channel lives on.
    pub fn queue_of(&self, name: &str) -> Option<usize> {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// How many channels there are.
    pub fn len(&self) -> usize {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// True when no channel is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the dialplan may ask of a channel (functions the interpreter does not know).
pub struct Data<'a> {
    channel: &'a Channel,
    core: &'a Core,
    snapshot: &'a Snapshot,
    added: Vec<(String, String)>,
}

impl<'a> Data<'a> {
    pub fn new(channel: &'a Channel, core: &'a Core, snapshot: &'a Snapshot) -> Self {
        Self {
            channel,
            core,
            snapshot,
            added: Vec::new(),
        }
    }

    pub fn take_added_headers(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.added)
    }
}

impl ChannelData for Data<'_> {
    fn name(&self) -> &str {
        &self.channel.name
    }

    fn unique_id(&self) -> &str {
        &self.channel.unique_id
    }

    fn read_function(&mut self, name: &str, args: &str) -> Option<Result<String, String>> {
        match name.to_ascii_uppercase().as_str() {
            "CHANNEL" => Some(Ok(match args.trim().to_ascii_lowercase().as_str() {
                "name" => self.channel.name.to_string(),
                "endpoint" => self.channel.endpoint.to_string(),
                "state" => self.channel.state.to_string(),
                "channeltype" => "PJSIP".into(),
                _ => String::new(),
            })),
            "PJSIP_HEADER" => {
                let mut parts = args.splitn(3, ',');
                let action = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
                let header = parts.next().unwrap_or_default().trim();
                let n: usize = parts
                    .next()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1);
                if action != "read" {
                    return Some(Err(format!("PJSIP_HEADER: unknown action '{action}'")));
                }
                // Names compare as SIP does: case-insensitively, compact forms included.
                let name = crate::sip::HeaderName::new(header);
                Some(Ok(self
                    .channel
                    .headers
                    .get_all(&name)
                    .nth(n.saturating_sub(1))
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()))
            }
            "PJSIP_DIAL_CONTACTS" => Some(Ok(super::dial::dial_contacts(
                self.core,
                self.snapshot,
                args,
            ))),
            _ => None,
        }
    }

    fn write_function(
        &mut self,
        name: &str,
        args: &str,
        value: &str,
    ) -> Option<Result<(), String>> {
        if !name.eq_ignore_ascii_case("PJSIP_HEADER") {
            return None;
        }
        let mut parts = args.splitn(2, ',');
        let action = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let header = parts.next().unwrap_or_default().trim();
        if action != "add" || header.is_empty() {
            return Some(Err(format!("PJSIP_HEADER: cannot '{action}' here")));
        }
        if value.contains(['\r', '\n'])
            || !header.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            return Some(Err(format!("PJSIP_HEADER: invalid header '{header}'")));
        }
        self.added.push((header.to_string(), value.to_string()));
        Some(Ok(()))
    }
}
