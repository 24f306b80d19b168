//! Dial(): outgoing channels for `PJSIP/...` targets rung in parallel, the first answer
//! bridged with the caller, DIALSTATUS as app_dial sets it (asterisk-pjsip.md section 7).

use std::time::Instant;

use super::cause::DialStatus;
use super::channel::{Channel, ChannelId, Direction, Wait};
use super::{Cause, Pbx, media};
use crate::core::{Core, OutgoingCall};
use crate::dialplan::exec::{DialArgs, PjsipTarget};
use crate::sip::Uri;
use crate::sorcery::Snapshot;

/// A running Dial() of a caller.
pub struct DialState {
    /// The outgoing channels still ringing.
    pub callees: Vec<ChannelId>,
    /// One cause per callee that failed (created or not), for DIALSTATUS.
    pub causes: Vec<Cause>,
    /// How many targets the Dial() had.
    pub targets: usize,
}

/// Starts a Dial(); false when nothing could be dialed (DIALSTATUS is set and the dialplan
/// goes on at once).
pub fn start(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
    args: &DialArgs,
) -> bool {
    let mut callees = Vec::new();
    let mut causes = Vec::new();
    let (caller_party, headers, continue_g) = match pbx.channels.get_mut(&caller) {
        Some(c) => (
            {
                c.sync_caller();
                c.caller.clone()
            },
            c.add_headers.clone(),
            args.options.continue_on_hangup,
        ),
        None => return false,
    };
    for target in &args.targets {
        if !target.tech.eq_ignore_ascii_case("PJSIP") {
            tracing::warn!("Dial: unknown technology '{}'", target.tech);
            causes.push(Cause::CHAN_NOT_IMPLEMENTED);
            continue;
        }
        match dial_one(
            pbx,
            now,
            core,
            snapshot,
            caller,
            &target.resource,
            &caller_party,
            &headers,
        ) {
            Ok(id) => callees.push(id),
            Err(c) => causes.push(c),
        }
    }
    if callees.is_empty() {
        let status = DialStatus::after_failures(&causes, args.targets.len());
        if let Some(ch) = pbx.channels.get_mut(&caller) {
            ch.set_var("DIALSTATUS", status.as_str());
            if let Some(c) = causes.last() {
                ch.set_var("HANGUPCAUSE", &c.code().to_string());
                ch.hangup_cause = Some(*c);
            }
        }
        return false;
    }
    if let Some(ch) = pbx.channels.get_mut(&caller) {
        ch.wait = Wait::Dial;
        ch.continue_on_peer_hangup = continue_g;
    }
    if let Some(t) = args.timeout {
        pbx.arm(caller, now + t);
    }
    pbx.dials.insert(
        caller,
        DialState {
            callees,
            causes,
            targets: args.targets.len(),
        },
    );
    true
}

/// One `PJSIP/...` target: an outgoing channel and its INVITE.
#[allow(clippy::too_many_arguments)]
fn dial_one(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
    resource: &str,
    caller_party: &crate::session::Party,
    headers: &[(String, String)],
) -> Result<ChannelId, Cause> {
    let multi_domain = !crate::identify::global(snapshot).disable_multi_domain;
    let target = PjsipTarget::parse(resource)
        .and_then(|t| t.resolve(multi_domain, |name| snapshot.endpoint(name).is_some()))
        .map_err(|e| {
            tracing::error!("{e}");
            e.cause()
        })?;
    let Some(ep) = snapshot.endpoint(&target.endpoint) else {
        tracing::error!(
            "Unable to create PJSIP channel - endpoint '{}' was not found",
            target.endpoint
        );
        return Err(Cause::NO_ROUTE_DESTINATION);
    };
    // Where to: an AOR list in the location, else the endpoint's AORs; a location that
    // names no AOR with contacts is a URI.
    let aors: Vec<String> = match &target.location {
        Some(loc) if !loc.contains(':') => loc.split(',').map(|s| s.trim().to_string()).collect(),
        Some(_) => Vec::new(),
        None => ep.aors.0.iter().map(|a| a.as_str().to_string()).collect(),
    };
    let targets = core.dial_targets(snapshot, &aors, pbx.unix_now);
    let chosen = targets
        .into_iter()
        .find_map(|t| core.route_target(snapshot, &t).map(|r| (t, r)));
    let (uri, route, flow, local) = match chosen {
        Some((t, (flow, local))) => (t.uri.clone(), t.path.clone(), flow, local),
        None => {
            let Some(loc) = target.location.as_ref().filter(|l| l.contains(':')) else {
                if ep.aors.0.is_empty() {
                    tracing::error!(
                        "Endpoint '{}': No URI available.  Is endpoint registered?",
                        target.endpoint
                    );
                } else {
                    tracing::error!(
                        "Endpoint '{}': Could not create dialog to invalid URI '{}'.  Is endpoint registered and reachable?",
                        target.endpoint,
                        aors.join(",")
                    );
                }
                tracing::error!(
                    "Failed to create outgoing session to endpoint '{}'",
                    target.endpoint
                );
                return Err(Cause::NO_ROUTE_DESTINATION);
            };
            let t = crate::core::uri_target(loc);
            match core.route_target(snapshot, &t) {
                Some((flow, local)) => (loc.clone(), Vec::new(), flow, local),
                None => {
                    tracing::error!("Endpoint '{}': cannot reach '{loc}'", target.endpoint);
                    return Err(Cause::NO_ROUTE_DESTINATION);
                }
            }
        }
    };
    let mut uri = match Uri::parse(uri.as_bytes()) {
        Ok(u) => u,
        Err(_) => {
            tracing::error!(
                "Endpoint '{}': Could not create dialog to invalid URI '{uri}'.  Is endpoint registered and reachable?",
                target.endpoint
            );
            return Err(Cause::NO_ROUTE_DESTINATION);
        }
    };
    if let (Some(user), Uri::Sip(u)) = (&target.request_user, &mut uri) {
        u.user = Some(user.clone());
    }
    let mut route = route;
    if route.is_empty() && !ep.outbound_proxy.0.is_empty() {
        route.push(format!("<{}>", ep.outbound_proxy.0));
    }
    let id = pbx.new_id();
    let name = pbx.new_name(&target.endpoint);
    let Some(offer) =
        media::outgoing_offer(pbx, snapshot, caller, &target.endpoint, &name, &flow, local)
    else {
        return Err(Cause::BEARERCAPABILITY_NOTAVAIL);
    };
    let sdp = offer.sdp;
    let call = OutgoingCall {
        endpoint: target.endpoint.clone(),
        uri,
        route,
        flow,
        local,
        caller: caller_party.clone(),
        sdp: Some(sdp),
        headers: headers.to_vec(),
    };
    let Some(session) = core.session_invite(now, snapshot, call) else {
        let mut m = offer.media;
        media::close_media(pbx, &mut m);
        return Err(Cause::NORMAL_TEMPORARY_FAILURE);
    };
    let (context, exten) = pbx
        .channels
        .get(&caller)
        .map(|c| (c.context.clone(), c.exten.clone()))
        .unwrap_or_default();
    let mut ch = Channel::new(
        id,
        name.into(),
        target.endpoint.as_str().into(),
        session,
        Direction::Outbound,
        caller_party.clone(),
        exten,
        context,
        offer.media,
        now,
    );
    ch.dialed_by = Some(caller);
    ch.call_id = core.session_call_id(session).unwrap_or_default().into();
    pbx.shared.registry.insert(pbx.queue, ch.name.clone());
    pbx.by_session.insert(session, id);
    pbx.channels.insert(id, ch);
    Ok(id)
}

/// A callee's provisional response: ringing (180) or early media (183 with SDP) shown to
/// the caller.
pub fn on_progress(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    callee: ChannelId,
    status: u16,
    sdp: Option<bytes::Bytes>,
) {
    let Some(caller) = pbx.channels.get(&callee).and_then(|c| c.dialed_by) else {
        return;
    };
    if let Some(c) = pbx.channels.get_mut(&callee) {
        c.set_state("Ringing");
    }
    if let Some(sdp) = sdp {
        media::callee_answer(pbx, snapshot, callee, &sdp);
        media::early_bridge(pbx, now, core, snapshot, caller, callee);
        return;
    }
    if status == 180
        && let Some(c) = pbx.channels.get_mut(&caller)
        && !c.answered
        && c.state != "Ringing"
    {
        c.set_state("Ringing");
        core.session_progress(now, c.session, 180, None);
    }
}

/// A callee answered: the others are cancelled, the caller answered and bridged.
pub fn on_answer(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    callee: ChannelId,
    sdp: Option<bytes::Bytes>,
) {
    let Some(caller) = pbx.channels.get(&callee).and_then(|c| c.dialed_by) else {
        // Answered after its caller went: hang it up.
        pbx.hangup(now, core, snapshot, callee, Cause::NORMAL_CLEARING);
        return;
    };
    if let Some(sdp) = &sdp
        && !media::callee_answer(pbx, snapshot, callee, sdp)
    {
        // An unusable answer: BYE it, the dial goes on with the others.
        pbx.hangup(
            now,
            core,
            snapshot,
            callee,
            Cause::BEARERCAPABILITY_NOTAVAIL,
        );
        return;
    }
    let others: Vec<ChannelId> = pbx
        .dials
        .remove(&caller)
        .map(|d| d.callees.into_iter().filter(|c| *c != callee).collect())
        .unwrap_or_default();
    for other in others {
        if let Some(c) = pbx.channels.get_mut(&other) {
            c.dialed_by = None;
        }
        // Asterisk: "Call completed elsewhere" is NORMAL_CLEARING (26 ANSWERED_ELSEWHERE).
        pbx.hangup(now, core, snapshot, other, Cause(26));
    }
    let caller_name = pbx.channels.get(&caller).map(|c| c.name.clone());
    let callee_name = pbx.channels.get(&callee).map(|c| c.name.clone());
    if let Some(c) = pbx.channels.get_mut(&callee) {
        c.peer_name = caller_name;
        c.app = ("AppDial".into(), "(Outgoing Line)".into());
        c.dialed_by = None;
        c.answered = true;
        c.answered_at = Some(now);
        c.set_state("Up");
        c.peer = Some(caller);
        c.wait = Wait::Forever;
    }
    if let Some(c) = pbx.channels.get_mut(&caller) {
        c.peer = Some(callee);
        c.peer_name = callee_name;
        c.wait = Wait::Forever;
        c.due = None;
        c.set_var("DIALSTATUS", "ANSWER");
    }
    media::carry_answer_attributes(pbx, caller, callee);
    pbx.answer(now, core, snapshot, caller);
    super::media::start_rtp_watch(pbx, now, callee);
    media::maybe_direct(pbx, now, core, snapshot, caller, callee);
    media::bridge(pbx, caller, callee);
    if let (Some(a), Some(b)) = (pbx.channels.get(&caller), pbx.channels.get(&callee)) {
        tracing::info!("Channel {} joined bridge with {}", a.name, b.name);
    }
}

/// A callee failed (or was hung up) while its caller's Dial() runs.
#[allow(clippy::too_many_arguments)]
pub fn callee_gone(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
    callee: ChannelId,
    cause: Cause,
    _status: Option<u16>,
) {
    if let Some(mut c) = pbx.channels.remove(&callee) {
        pbx.by_session.remove(&c.session);
        media::close(pbx, &mut c);
        pbx.shared.registry.remove(&c.name);
        if !c.session_over {
            core.session_end(now, c.session, 0, Some(cause.code()));
        }
    }
    let Some(d) = pbx.dials.get_mut(&caller) else {
        return;
    };
    d.callees.retain(|c| *c != callee);
    d.causes.push(cause);
    if !d.callees.is_empty() {
        return;
    }
    let status = DialStatus::after_failures(&d.causes, d.targets);
    pbx.dials.remove(&caller);
    resume(pbx, now, core, snapshot, caller, status, cause);
}

/// Dial() is over without an answer: DIALSTATUS and HANGUPCAUSE set, the dialplan goes on.
fn resume(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
    status: DialStatus,
    cause: Cause,
) {
    if let Some(c) = pbx.channels.get_mut(&caller) {
        c.wait = Wait::None;
        c.due = None;
        c.set_var("DIALSTATUS", status.as_str());
        c.set_var("HANGUPCAUSE", &cause.code().to_string());
        c.hangup_cause = Some(cause);
        media::unbridge_early(pbx, caller);
    }
    pbx.run(now, core, snapshot, caller);
}

/// Dial()'s timeout: every callee is cancelled, DIALSTATUS=NOANSWER.
pub fn timeout(
    pbx: &mut Pbx,
    now: Instant,
    core: &mut Core,
    snapshot: &Snapshot,
    caller: ChannelId,
) {
    let Some(d) = pbx.dials.remove(&caller) else {
        return;
    };
    for callee in d.callees {
        if let Some(c) = pbx.channels.get_mut(&callee) {
            c.dialed_by = None;
        }
        pbx.hangup(now, core, snapshot, callee, Cause::NORMAL_CLEARING);
    }
    resume(
        pbx,
        now,
        core,
        snapshot,
        caller,
        DialStatus::NoAnswer,
        Cause::NO_ANSWER,
    );
}

/// `PJSIP_DIAL_CONTACTS(endpoint[,aor[,request_user]])`: every reachable contact as a dial
/// string, joined with `&`.
pub fn dial_contacts(core: &Core, snapshot: &Snapshot, args: &str) -> String {
    let mut parts = args.split(',').map(str::trim);
    let endpoint = parts.next().unwrap_or_default();
    let aor = parts.next().filter(|s| !s.is_empty());
    let user = parts.next().filter(|s| !s.is_empty());
    let Some(ep) = snapshot.endpoint(endpoint) else {
        tracing::warn!("Specified endpoint '{endpoint}' was not found");
        return String::new();
    };
    let aors: Vec<String> = match aor {
        Some(a) => a.split('&').map(str::to_string).collect(),
        None => ep.aors.0.iter().map(|a| a.as_str().to_string()).collect(),
    };
    let prefix = match user {
        Some(u) => format!("PJSIP/{u}@{endpoint}/"),
        None => format!("PJSIP/{endpoint}/"),
    };
    core.dial_targets(snapshot, &aors, 0)
        .into_iter()
        .map(|t| format!("{prefix}{}", t.uri))
        .collect::<Vec<_>>()
        .join("&")
}
