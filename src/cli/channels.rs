//! `core show channels`, `core show channel <name>`, `channel request hangup <name>`,
//! `dialplan show [context]` and `dialplan reload`.

use super::{Daemon, Reply};

/// `core show channels [concise|count]`.
pub fn show_channels(daemon: &dyn Daemon, mode: Option<&str>) -> Reply {
    let listing = daemon.channels();
    let rows = &listing.channels;
    let mut out = String::new();
    match mode {
        Some("concise") => {
            for i in rows {
                let (exten, rest) = i.location.split_once('@').unwrap_or((&i.location, ""));
                let (context, prio) = rest.split_once(':').unwrap_or((rest, ""));
                out.push_str(&format!(
                    "{}!{context}!{exten}!{prio}!{}!{}!{}!{}!!!3!0!{}\n",
                    i.name,
                    i.state,
                    i.application,
                    i.data,
                    i.caller.number,
                    i.peer.as_deref().unwrap_or("(None)")
                ));
            }
        }
        Some("count") => {}
        _ => {
            out.push_str(&format!(
                "{:<20} {:<20} {:<7} {:<30}\n",
                "Channel", "Location", "State", "Application(Data)"
            ));
            for i in rows {
                let app = format!("{}({})", i.application, i.data);
                out.push_str(&format!(
                    "{:<20} {:<20} {:<7} {:<30}\n",
                    i.name, i.location, i.state, app
                ));
            }
        }
    }
    let calls = rows.iter().filter(|i| i.peer.is_some()).count() / 2
        + rows.iter().filter(|i| i.peer.is_none()).count();
    out.push_str(&format!(
        "{} active channel{}\n{} active call{}\n",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        calls,
        if calls == 1 { "" } else { "s" }
    ));
    unanswered_note(&mut out, listing.unanswered);
    Reply::ok(out)
}

/// `core show channel <name>`: the channel and its media (packets and loss each way, the
/// latched source).
pub fn show_channel(daemon: &dyn Daemon, name: &str) -> Reply {
    let listing = daemon.channels();
    let Some(i) = listing.channels.into_iter().find(|i| &*i.name == name) else {
        let mut out = format!("{name} is not a known channel\n");
        unanswered_note(&mut out, listing.unanswered);
        return Reply::fail(out);
    };
    let mut out = format!(
        " -- General --\n           Name: {}\n           Type: PJSIP\n       Endpoint: {}\n      Caller ID: {}\n Caller ID Name: {}\n          State: {}\n  Bridged to: {}\n    SIP Call-ID: {}\n       Location: {}\n    Application: {}\n           Data: {}\n",
        i.name,
        i.endpoint,
        i.caller.number,
        i.caller.name,
        i.state,
        i.peer.as_deref().unwrap_or("(None)"),
        i.call_id,
        i.location,
        i.application,
        i.data
    );
    match i.leg.and_then(|leg| daemon.leg_stats(leg)) {
        Some(m) => out.push_str(&format!(
            " -- Media --\n      Local RTP: {}\n     Remote RTP: {}\n        Latched: {}\n     RX packets: {}\n     TX packets: {}\n   RX lost (seq): {}\n  Unexpected src: {}\n   RTCP RX/TX: {}/{}\n  Relayed by: {}\n",
            m.local_rtp,
            m.remote.map_or("(none)".to_string(), |a| a.to_string()),
            m.latched.map_or("(none)".to_string(), |a| a.to_string()),
            m.rx_packets,
            m.tx_packets,
            m.rx_lost,
            m.unexpected,
            m.rtcp_rx_packets,
            m.rtcp_tx_packets,
            if m.kernel {
                "kernel (loss not measured)"
            } else {
                "relay thread"
            }
        )),
        None => out.push_str(" -- Media --\n  (no RTP leg)\n"),
    }
    Reply::ok(out)
}

/// A listing that misses the channels of queues too busy to answer says so.
fn unanswered_note(out: &mut String, unanswered: usize) {
    if unanswered > 0 {
        out.push_str(&format!(
            "({unanswered} queue{} did not answer in time: {} channels are not listed)\n",
            if unanswered == 1 { "" } else { "s" },
            if unanswered == 1 { "its" } else { "their" }
        ));
    }
}

/// `channel request hangup <name>|all`.
pub fn hangup(daemon: &dyn Daemon, name: &str) -> Reply {
    match daemon.channel_hangup(name) {
        Ok(text) => Reply::ok(format!("{text}\n")),
        Err(why) => Reply::fail(format!("{why}\n")),
    }
}

/// `dialplan show [context]`.
pub fn dialplan_show(daemon: &dyn Daemon, context: Option<&str>) -> Reply {
    let tables = daemon.tables();
    let text = crate::dialplan::exec::show::dialplan_show(&tables.dialplan, context);
    Reply::ok(text)
}
