//! CLI tests against an in-memory daemon.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::sorcery::Store;

const CONF: &str = "\
[transport-udp]
type=transport
protocol=udp
bind=0.0.0.0

[phone](!)
type=endpoint
context=internal
disallow=all
allow=ulaw

[6001](phone)
callerid=\"Alice\" <6001>
auth=6001
aors=6001

[6001]
type=auth
username=6001
password=s3cret-never-shown

[6001]
type=aor
max_contacts=1
contact=sip:6001@192.0.2.10:5060

[6002](phone)
aors=6002

[6002]
type=aor
max_contacts=2

[trunk]
type=wizard
remote_hosts=198.51.100.7:5060
endpoint/context=from-trunk
sends_registrations=yes

[global]
type=global
user_agent=TestPBX
";

struct FakeDaemon {
    store: Store,
    stopped: AtomicBool,
    reloads: Mutex<u32>,
}

impl FakeDaemon {
    fn new(text: &str) -> Self {
        Self {
            store: crate::testing::store(text),
            stopped: AtomicBool::new(false),
            reloads: Mutex::new(0),
        }
    }
}

impl Daemon for FakeDaemon {
    fn snapshot(&self) -> Arc<crate::sorcery::Snapshot> {
        self.store.snapshot()
    }
    fn reload(&self) -> Result<String, String> {
        let mut n = self.reloads.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        if *n > 1 {
            Err("pjsip.conf:3: error: kept running configuration".into())
        } else {
            Ok("pjsip.conf unchanged".into())
        }
    }
    fn stop_gracefully(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }
    fn uptime_secs(&self) -> u64 {
        3_725
    }
    fn last_reload_secs(&self) -> u64 {
        5
    }
}

fn run(d: &FakeDaemon, cmd: &str) -> Reply {
    execute(d, cmd)
}

#[test]
fn show_endpoints_follows_asterisk_layout() {
    let d = FakeDaemon::new(CONF);
    let r = run(&d, "pjsip show endpoints");
    assert!(r.ok);
    let lines: Vec<&str> = r.text.lines().collect();
    assert_eq!(lines[0], "");
    assert!(
        lines[1].starts_with(" Endpoint:  <Endpoint/CID....."),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with("    I/OAuth:  <AuthId/UserName"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].starts_with("        Aor:  <Aor....."),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].starts_with("      Contact:  <Aor/ContactUri"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].starts_with("  Transport:  <TransportId"),
        "{}",
        lines[5]
    );
    assert!(
        lines[6].starts_with("   Identify:  <Identify/Endpoint"),
        "{}",
        lines[6]
    );
    assert!(
        lines[7].starts_with("        Match:  <criteria"),
        "{}",
        lines[7]
    );
    assert!(r.text.contains(&"=".repeat(90)));
    // Endpoint row: name/cid padded to the State column, then the channel count.
    let row = lines
        .iter()
        .find(|l| l.starts_with(" Endpoint:  6001/6001"))
        .copied()
        .unwrap_or("");
    let state_col = 12 + 51 + 2;
    assert_eq!(&row[state_col..state_col + 12], "Not in use  ", "{row}");
    assert!(row.ends_with("0 of inf"), "{row}");
    assert!(r.text.contains("     InAuth:  6001/6001\n"));
    assert!(r.text.contains(" Endpoint:  6002 "));
    assert!(r.text.contains("Unavailable"));
    assert!(r.text.contains("   Identify:  trunk-identify/trunk\n"));
    assert!(r.text.contains("        Match:  198.51.100.7/32\n"));
    assert!(
        r.text
            .contains("      Contact:  6001/sip:6001@192.0.2.10:5060")
    );
    assert!(r.text.ends_with("\nObjects found: 3\n"), "{}", r.text);
}

#[test]
fn show_endpoint_dumps_parameters_and_never_passwords() {
    let d = FakeDaemon::new(CONF);
    let r = run(&d, "pjsip show endpoint 6001");
    assert!(r.ok);
    assert!(r.text.contains(" ParameterName"));
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with(" context ") && l.ends_with(": internal"))
    );
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with(" aors ") && l.ends_with(": 6001"))
    );
    let auth = run(&d, "pjsip show auth 6001");
    assert!(auth.ok);
    assert!(!auth.text.contains("s3cret"), "{}", auth.text);
    assert!(
        auth.text
            .lines()
            .any(|l| l.starts_with(" password ") && l.ends_with(": <hidden>"))
    );
    let all = run(&d, "pjsip show auths");
    assert!(!all.text.contains("s3cret"));
    assert!(all.text.contains("6001/6001"));
}

#[test]
fn unknown_objects_and_commands_fail() {
    let d = FakeDaemon::new(CONF);
    let r = run(&d, "pjsip show endpoint nosuch");
    assert_eq!(r, Reply::fail("Unable to find object nosuch.\n"));
    let r = run(&d, "pjsip frobnicate");
    assert!(!r.ok);
    let r = run(&d, "bogus");
    assert!(!r.ok && r.text.contains("No such command"));
}

#[test]
fn empty_listings_say_so() {
    let d = FakeDaemon::new("[global]\n");
    assert_eq!(
        run(&d, "pjsip show endpoints"),
        Reply::ok("No objects found.\n")
    );
    assert_eq!(
        run(&d, "pjsip show registrations"),
        Reply::ok("No objects found.\n")
    );
}

#[test]
fn other_listings() {
    let d = FakeDaemon::new(CONF);
    let t = run(&d, "pjsip show transports");
    assert!(t.text.contains("Transport:  transport-udp "), "{}", t.text);
    assert!(t.text.contains("udp"));
    assert!(t.text.contains("0.0.0.0:5060"));
    let a = run(&d, "pjsip show aors");
    assert!(a.text.contains("      Aor:  6001 "), "{}", a.text);
    assert!(a.text.contains("Objects found: 3"));
    let c = run(&d, "pjsip show contacts");
    assert!(
        c.text.contains("  Contact:  6001/sip:6001@192.0.2.10:5060"),
        "{}",
        c.text
    );
    assert!(c.text.contains("NonQual"));
    assert!(c.text.contains("Objects found: 2"));
    let i = run(&d, "pjsip show identifies");
    assert!(
        i.text.contains(" Identify:  trunk-identify/trunk"),
        "{}",
        i.text
    );
    let reg = run(&d, "pjsip show registrations");
    assert!(
        reg.text.contains(" trunk-reg-0/sip:198.51.100.7:5060"),
        "{}",
        reg.text
    );
    assert!(reg.text.contains("Unregistered"));
    let s = run(&d, "pjsip show settings");
    assert!(s.text.contains("Global Settings:") && s.text.contains("System Settings:"));
    assert!(
        s.text
            .lines()
            .any(|l| l.starts_with(" user_agent") && l.ends_with(": TestPBX"))
    );
    assert!(
        s.text
            .lines()
            .any(|l| l.starts_with(" timer_t1") && l.ends_with(": 500"))
    );
}

#[test]
fn core_commands() {
    let d = FakeDaemon::new(CONF);
    assert!(run(&d, "core show version").text.starts_with("pjsipd "));
    assert!(
        run(&d, "core show uptime")
            .text
            .contains("1 hour, 2 minutes, 5 seconds")
    );
    assert!(run(&d, "help").text.contains("pjsip show endpoints"));
    assert_eq!(run(&d, "pjsip reload"), Reply::ok("pjsip.conf unchanged\n"));
    let second = run(&d, "pjsip reload");
    assert!(!second.ok && second.text.contains("kept running configuration"));
    assert!(run(&d, "core stop gracefully").ok);
    assert!(d.stopped.load(Ordering::SeqCst));
}

#[test]
fn commands_are_case_insensitive_but_ids_are_not() {
    let d = FakeDaemon::new("[Alice]\ntype=endpoint\n");
    assert!(run(&d, "PJSIP SHOW ENDPOINT Alice").ok);
    assert!(!run(&d, "pjsip show endpoint alice").ok);
}

#[test]
fn show_identifiers_and_test_identify() {
    let d = FakeDaemon::new(
        "[carrier]\ntype=endpoint\n[c-id]\ntype=identify\nendpoint=carrier\nmatch=198.51.100.7\n\
         [trunk]\ntype=endpoint\n[t-id]\ntype=identify\nendpoint=trunk\nmatch=198.51.100.0/24\n",
    );
    let r = run(&d, "pjsip show identifiers");
    assert!(r.ok);
    assert!(
        r.text.contains("  1. ip\n  2. username\n  3. anonymous"),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("where both match, identify 'c-id'"),
        "{}",
        r.text
    );
    let t = run(&d, "pjsip test identify 198.51.100.9:5060");
    assert!(
        t.ok && t.text.contains("Identified as endpoint 'trunk' by ip"),
        "{}",
        t.text
    );
    let t = run(&d, "pjsip test identify 192.0.2.1:5060 from sip:bob@pbx");
    assert!(t.text.contains("No matching endpoint found"), "{}", t.text);
    assert!(
        t.text.contains("no endpoint named bob@pbx, bob"),
        "{}",
        t.text
    );
    assert!(!run(&d, "pjsip test identify nonsense").ok);
}

#[test]
fn show_endpoint_lists_permit_and_deny_rules_apart() {
    let d = FakeDaemon::new("[6001]\ntype=endpoint\ndeny=0.0.0.0/0\npermit=10.0.0.0/8\n");
    let r = run(&d, "pjsip show endpoint 6001");
    let line = |name: &str| {
        r.text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name} ")))
            .map(|l| l.rsplit(':').next().unwrap_or_default().trim().to_string())
    };
    assert_eq!(line("deny").as_deref(), Some("0.0.0.0/0"), "{}", r.text);
    assert_eq!(line("permit").as_deref(), Some("10.0.0.0/8"), "{}", r.text);
}

/// A daemon with a registered contact and a registration's run-time state.
struct LiveDaemon(FakeDaemon);

impl Daemon for LiveDaemon {
    fn snapshot(&self) -> Arc<crate::sorcery::Snapshot> {
        self.0.snapshot()
    }
    fn reload(&self) -> Result<String, String> {
        self.0.reload()
    }
    fn stop_gracefully(&self) {}
    fn uptime_secs(&self) -> u64 {
        1
    }
    fn last_reload_secs(&self) -> u64 {
        1
    }
    fn live(&self) -> Live {
        Live {
            contacts: vec![ContactRow {
                aor: "6002".into(),
                uri: "sip:6002@192.0.2.20:5062".into(),
                hash: "0123456789abcdef0123456789abcdef".into(),
                dynamic: true,
                status: "Avail".into(),
                rtt_ms: Some(12.3456),
                details: vec![("user_agent".into(), "Phone/1.0".into())],
            }],
            registrations: vec![RegistrationRow {
                name: "trunk-reg-0".into(),
                status: "Registered".into(),
                next_secs: Some(3570),
                details: vec![("last_response (run time)".into(), "200".into())],
            }],
        }
    }
}

#[test]
fn registered_contacts_and_registration_states_are_listed() {
    let d = LiveDaemon(FakeDaemon::new(CONF));
    let contacts = execute(&d, "pjsip show contacts");
    assert!(contacts.ok);
    let row = contacts
        .text
        .lines()
        .find(|l| l.contains("6002/sip:6002@192.0.2.20"))
        .unwrap_or_else(|| panic!("{}", contacts.text));
    assert!(row.contains("0123456789 Avail"), "{row}");
    assert!(row.trim_end().ends_with("12.346"), "{row}");
    // The static contact of 6001 is listed too, not qualified.
    assert!(contacts.text.contains("NonQual"), "{}", contacts.text);
    let one = execute(
        &d,
        "pjsip show contact 6002;@0123456789abcdef0123456789abcdef",
    );
    assert!(one.ok && one.text.contains("Phone/1.0"), "{}", one.text);
    let regs = execute(&d, "pjsip show registrations");
    assert!(
        regs.text.contains("Registered       (exp. 3570s)"),
        "{}",
        regs.text
    );
    let reg = execute(&d, "pjsip show registration trunk-reg-0");
    assert!(
        reg.text.contains("last_response (run time)"),
        "{}",
        reg.text
    );
    // An endpoint with a reachable registered contact is not Unavailable.
    let eps = execute(&d, "pjsip show endpoint 6002");
    assert!(eps.text.contains("Not in use"), "{}", eps.text);
}

/// A daemon with one bridged call and a dialplan, and queues that did not answer a listing.
struct CallDaemon(FakeDaemon, usize);

impl Daemon for CallDaemon {
    fn snapshot(&self) -> Arc<crate::sorcery::Snapshot> {
        self.0.snapshot()
    }
    fn reload(&self) -> Result<String, String> {
        self.0.reload()
    }
    fn stop_gracefully(&self) {}
    fn uptime_secs(&self) -> u64 {
        1
    }
    fn last_reload_secs(&self) -> u64 {
        1
    }
    fn channels(&self) -> crate::pbx::ChannelListing {
        let info = |name: &str, peer: &str, app: &str, data: &str| crate::pbx::ChannelInfo {
            name: name.into(),
            endpoint: "6001".into(),
            location: "600@internal:2".into(),
            state: "Up",
            application: app.into(),
            data: data.into(),
            caller: crate::session::Party {
                number: "6001".into(),
                name: "Alice".into(),
                ..Default::default()
            },
            call_id: "c1@test".into(),
            peer: Some(peer.into()),
            leg: None,
        };
        let channels = vec![
            info(
                "PJSIP/6001-00000000",
                "PJSIP/6002-00000001",
                "Dial",
                "PJSIP/6002",
            ),
            info(
                "PJSIP/6002-00000001",
                "PJSIP/6001-00000000",
                "AppDial",
                "(Outgoing Line)",
            ),
        ];
        crate::pbx::ChannelListing {
            channels,
            unanswered: self.1,
        }
    }
    fn tables(&self) -> Arc<crate::core::Tables> {
        let dialplan = crate::dialplan::Dialplan::load_str(
            &crate::config::ini::MemFs::new(),
            std::path::Path::new("/etc/pjsipd/extensions.conf"),
            "[internal]\nexten => 600,1,Answer()\n same => n,Echo()\n",
        )
        .expect("dialplan")
        .dialplan;
        Arc::new(crate::core::Tables {
            dialplan,
            ..Default::default()
        })
    }
}

#[test]
fn core_show_channels_counts_a_bridge_as_one_call_and_shows_the_peer() {
    let d = CallDaemon(FakeDaemon::new(CONF), 0);
    let text = execute(&d, "core show channels").text;
    assert!(
        text.contains("PJSIP/6001-00000000  600@internal:2       Up      Dial(PJSIP/6002)"),
        "{text}"
    );
    assert!(
        text.ends_with("2 active channels\n1 active call\n"),
        "{text}"
    );
    let one = execute(&d, "core show channel PJSIP/6001-00000000").text;
    assert!(one.contains("Bridged to: PJSIP/6002-00000001"), "{one}");
    assert!(one.contains("SIP Call-ID: c1@test"), "{one}");
    assert!(one.contains("(no RTP leg)"), "{one}");
    let unknown = execute(&d, "core show channel PJSIP/x-1");
    assert!(
        unknown.text.contains("is not a known channel"),
        "{}",
        unknown.text
    );
    let shown = execute(&d, "dialplan show internal").text;
    assert!(
        shown.contains("'600'") && shown.contains("Echo()"),
        "{shown}"
    );
}

#[test]
fn a_channel_listing_says_when_busy_queues_did_not_answer() {
    let d = CallDaemon(FakeDaemon::new(CONF), 2);
    let text = execute(&d, "core show channels").text;
    assert!(
        text.ends_with(
            "1 active call\n(2 queues did not answer in time: their channels are not listed)\n"
        ),
        "{text}"
    );
    let one = execute(&d, "core show channel PJSIP/x-1").text;
    assert!(one.contains("(2 queues did not answer"), "{one}");
}
