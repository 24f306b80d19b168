//! Property tests of the configuration reader and builder.
//!
//! - Arbitrary bytes, and arbitrary text assembled from the pieces of Asterisk's syntax, never
//!   make the reader or the builder panic, and every diagnostic they produce renders.
//! - Random valid objects written as `pjsip.conf` load, print with `to_config_text` and load
//!   again to the very same objects.
//! - Templates, inheritance, `(+)` and `+=` give exactly the object that applying the resolved
//!   lines directly gives.
//!
//! Case counts are kept moderate so the whole file runs in a few seconds in debug mode.

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

use pjsipd::config::Location;
use pjsipd::config::build::{BuildResult, Line, build, build_object, load, to_config_text};
use pjsipd::config::ini::{self, MemFs};
use pjsipd::config::options::{OptionInfo, Options};
use pjsipd::config::types::{
    Acl, Aor, Auth, Contact, DomainAlias, DtmfMode, Endpoint, Global, Identify, IdentifyMethod,
    Kind, MatchTarget, Object, Registration, System, Transport, TransportProtocol,
};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// The main configuration file of every in-memory file system used here.
const MAIN: &str = "/etc/pjsip/pjsip.conf";

fn config(cases: u32) -> Config {
    Config {
        cases,
        // Failures are reported with their minimal input; no files are written next to the
        // test sources.
        failure_persistence: None,
        ..Config::default()
    }
}

/// (kind, id, object) of every built object, in order: what two loads must agree on.
fn triples(r: &BuildResult) -> Vec<(Kind, String, Object)> {
    r.objects
        .iter()
        .map(|o| (o.kind, o.id.clone(), o.object.clone()))
        .collect()
}

fn errors(r: &BuildResult) -> Vec<String> {
    r.diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect()
}

/// Loads `text` as the only file of an in-memory file system.
fn load_text(text: &str) -> BuildResult {
    let fs = MemFs::new().with(MAIN, text.as_bytes().to_vec());
    match load(&fs, Path::new(MAIN)) {
        Ok(r) => r,
        Err(e) => panic!("load failed: {e}\n--- text ---\n{text}"),
    }
}

/// Renders every diagnostic (the Display impl must not panic) and checks the basic shape.
fn render_all(r: &BuildResult) {
    for d in &r.diagnostics {
        let s = d.to_string();
        assert!(!s.is_empty());
        assert!(s.contains(&d.message), "{s:?} lacks its message");
        if let Some(loc) = &d.location {
            assert!(
                s.starts_with(&loc.to_string()),
                "{s:?} does not start with {loc}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// a. No panics on arbitrary input
// ---------------------------------------------------------------------------------------------

/// Pieces of Asterisk config syntax, combined at random.
const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "(!)",
    "(a,b)",
    "(+)",
    "(!,a)",
    "(+type=endpoint)",
    "(",
    ")",
    "=",
    "=>",
    "+=",
    ";",
    ";--",
    "--;",
    "\\;",
    "\\",
    "#",
    "\n",
    "\n",
    "\n",
    "\n",
    "\r\n",
    "\r",
    "\0",
    " ",
    "\t",
    ",",
    "!",
    "+",
    "/",
    ">",
    "\u{feff}",
    "é",
    "日本",
    "😀",
    "\u{202e}",
    "\u{7f}",
    "\u{1b}[31m",
    "\n[a]\n",
    "\n[b](!)\n",
    "\n[6001]\n",
    "\n[6001](a)\n",
    "\n[6001](+)\n",
    "\n[global]\n",
    "\ntype=endpoint\n",
    "\ntype=aor\n",
    "\ntype=auth\nusername=u\n",
    "\ntype=identify\nendpoint=6001\nmatch=10.0.0.1\n",
    "\ntype=transport\nbind=0.0.0.0\n",
    "\ntype=wizard\nremote_hosts=h.example.com\nsends_auth=yes\noutbound_auth/username=u\n",
    "\nallow+=,alaw\n",
    "\ncontext=x\\;y\n",
];

/// Directives; some always fail the whole load (loops), so they are rarer.
const DIRECTIVES: &[&str] = &[
    "#include ",
    "#tryinclude ",
    "#include a.conf",
    "#include \"b.conf\"",
    "#include <pjsip.conf>",
    "#include *.conf",
    "#include missing.conf",
    "#tryinclude missing.conf",
    "#tryinclude b.conf",
    "#tryinclude [ab].conf",
    "#exec /bin/true",
    "#bogus",
    "#INCLUDE a.conf",
];

/// Words that mean something somewhere in pjsip.conf.
const WORDS: &[&str] = &[
    "a",
    "b",
    "6001",
    "type",
    "endpoint",
    "aor",
    "auth",
    "identify",
    "transport",
    "wizard",
    "registration",
    "contact",
    "global",
    "system",
    "domain_alias",
    "acl",
    "context",
    "aors",
    "outbound_auth",
    "allow",
    "disallow",
    "all",
    "ulaw",
    "alaw:20",
    "!g729",
    "match",
    "bind",
    "protocol",
    "udp",
    "tls",
    "0.0.0.0:5060",
    "[::1]:5060",
    "10.0.0.0/8",
    "::",
    "sip:h",
    "sips:u@h:5061",
    "username",
    "password",
    "realm",
    "max_contacts",
    "qualify_frequency",
    "qualify_timeout",
    "99999999999",
    "-1",
    "1e400",
    "NaN",
    "yes",
    "maybe",
    "remote_hosts",
    "sends_auth",
    "sends_registrations",
    "accepts_registrations",
    "accepts_auth",
    "outbound_auth/username",
    "inbound_auth/username",
    "endpoint/context",
    "aor/max_contacts",
    "dtmf_mode",
    "rfc2833",
    "identify_by",
    "ip",
    "transport-udp",
    "${REMOTE_HOST}",
    "uri",
    "server_uri",
    "client_uri",
    "endpoint_identifier_order",
    "timer_t1",
];

/// Lines that are valid in some object, so that generated sections often load.
const GOOD_LINES: &[&str] = &[
    "type=endpoint",
    "type=endpoint",
    "type=aor",
    "type=aor",
    "type=auth",
    "type=wizard",
    "type=identify",
    "type=transport",
    "type=global",
    "context=from-internal",
    "allow=ulaw",
    "disallow=all",
    "aors=a,b",
    "auth=a",
    "transport=t",
    "dtmf_mode=info",
    "identify_by=ip",
    "max_contacts=2",
    "contact=sip:h.example.com",
    "qualify_frequency=60",
    "username=u",
    "password=p\\;w",
    "realm=r",
    "endpoint=a",
    "match=10.0.0.1",
    "match=h.example.com:5060",
    "bind=0.0.0.0:5060",
    "protocol=tcp",
    "remote_hosts=h.example.com",
    "accepts_registrations=yes",
    "sends_auth=yes",
    "outbound_auth/username=u",
    "endpoint/context=c",
    "max_forwards=10",
];

/// Section names and template lists for plausible headers.
const HEADER_OPTIONS: &[&str] = &[
    "", "", "", "(!)", "(a)", "(+)", "(!,a)", "(a,b)", "(x)", "( ! )",
];
const OPERATORS: &[&str] = &["=", " = ", "=>", " => ", "+=", " += ", ":", ""];
const VALUES: &[&str] = &[
    "",
    "endpoint",
    "aor",
    "auth",
    "identify",
    "transport",
    "wizard",
    "registration",
    "contact",
    "global",
    "system",
    "a",
    "b",
    "6001",
    "u",
    "yes",
    "no",
    "maybe",
    "0",
    "1",
    "60",
    "86401",
    "4294967296",
    "-1",
    "3.5",
    "inf",
    "ulaw,alaw",
    "all",
    "!all",
    "ulaw:x",
    "bogus",
    "0.0.0.0",
    "0.0.0.0:5060",
    "[::]:5061",
    "::1",
    "10.0.0.0/8",
    "10.0.0.0/255.0.0.0",
    "h.example.com",
    "h.example.com:5060",
    "[2001:db8::1]:5060",
    "sip:u@h",
    "sips:h;lr",
    "sip:",
    "x y",
    "a\\;b",
    "é",
    "sip:${USERNAME}@${REMOTE_HOST}",
    "rfc4733",
    "username,ip",
    "udp",
    "ws",
];

fn fragment() -> impl Strategy<Value = String> {
    let header = (
        prop::sample::select(&["a", "b", "6001", "global", "system", "x", " a ", ""][..]),
        prop::sample::select(HEADER_OPTIONS),
    )
        .prop_map(|(n, o)| format!("\n[{n}]{o}\n"));
    let variable = (
        prop::sample::select(WORDS),
        prop::sample::select(OPERATORS),
        prop::sample::select(VALUES),
        prop::sample::select(&["", "", " ; note", ";--", " \\;"][..]),
    )
        .prop_map(|(n, op, v, c)| format!("{n}{op}{v}{c}\n"));
    prop_oneof![
        8 => prop::sample::select(GOOD_LINES).prop_map(|l| format!("\n{l}\n")),
        4 => variable,
        3 => header,
        6 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
        1 => prop::sample::select(DIRECTIVES).prop_map(|d| format!("\n{d}\n")),
        3 => prop::sample::select(WORDS).prop_map(str::to_string),
        1 => "\\PC{0,6}",
        1 => prop::collection::vec(any::<char>(), 0..4).prop_map(|v| v.into_iter().collect()),
    ]
}

/// Per type: the lines that start a valid object of it, then lines valid in it.
const TYPED_LINES: &[(&str, &[&str])] = &[
    (
        "type=endpoint",
        &[
            "context=from-internal",
            "allow=ulaw",
            "disallow=all",
            "allow=!all,g722:20",
            "aors=a,b",
            "auth=a",
            "outbound_auth=o",
            "transport=t",
            "dtmf_mode=info",
            "identify_by=ip",
            "context+=-x",
            "aors+=,c",
        ],
    ),
    (
        "type=aor",
        &[
            "max_contacts=2",
            "contact=sip:h.example.com",
            "qualify_frequency=60",
        ],
    ),
    (
        "type=auth\nusername=u\npassword=p",
        &["password=p\\;w", "realm=r", "username=v", "password+=x"],
    ),
    (
        "type=identify\nendpoint=a\nmatch=10.0.0.1",
        &["match=h.example.com:5060", "match=10.0.0.0/8", "endpoint=b"],
    ),
    (
        "type=transport\nbind=0.0.0.0:5060",
        &["protocol=tcp", "bind=[::]:5061"],
    ),
    (
        "type=wizard\nremote_hosts=h.example.com",
        &[
            "accepts_registrations=yes",
            "sends_auth=yes",
            "outbound_auth/username=u",
            "endpoint/context=c",
            "aor/max_contacts=3",
            "sends_registrations=yes",
        ],
    ),
    ("type=global", &["max_forwards=10"]),
    ("", &[]),
];

/// Text made of sections whose lines are mostly valid for their type, with some noise: many
/// sections load, and the ones that do not fail in many different ways.
fn sectioned_text() -> impl Strategy<Value = String> {
    let noise = prop_oneof![
        2 => (
            prop::sample::select(WORDS),
            prop::sample::select(OPERATORS),
            prop::sample::select(VALUES),
        )
            .prop_map(|(n, op, v)| format!("{n}{op}{v}")),
        1 => prop::sample::select(GOOD_LINES).prop_map(str::to_string),
        1 => prop::sample::select(FRAGMENTS).prop_map(str::to_string),
    ];
    let section = (
        prop::sample::select(&["a", "b", "c", "6001", "6002", "global", "x"][..]),
        prop::sample::select(HEADER_OPTIONS),
        prop::sample::select(TYPED_LINES),
        prop::collection::vec((0usize..64, prop::option::weighted(0.1, noise)), 0..6),
    )
        .prop_map(|(name, opts, (first, good), picks)| {
            let mut text = format!("[{name}]{opts}\n{first}\n");
            for (i, noise) in picks {
                match noise {
                    Some(n) => text.push_str(&n),
                    None if !good.is_empty() => text.push_str(good[i % good.len()]),
                    None => {}
                }
                text.push('\n');
            }
            text.push('\n');
            text
        });
    prop::collection::vec(section, 0..12).prop_map(|v| v.concat())
}

/// Free-form soup of syntax pieces, or sections of mostly valid lines.
fn config_like_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(fragment(), 0..60).prop_map(|v| v.concat()),
        sectioned_text(),
    ]
}

/// Loads `fs`'s main file; whatever happens must not panic, and every diagnostic must
/// render. When objects load, printing them and loading the text again must give the same
/// objects without errors.
fn exercise(fs: &MemFs) {
    let main = Path::new(MAIN);
    // The reader on its own.
    match ini::read_file(fs, main) {
        Ok(read) => {
            for d in &read.diagnostics {
                let _ = d.to_string();
            }
            let built = build(&read.document);
            render_all(&built);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    // Reader and builder together.
    let result = match load(fs, main) {
        Ok(r) => r,
        Err(e) => {
            let s = e.to_string();
            assert!(s.contains("error"), "{s}");
            return;
        }
    };
    render_all(&result);
    let text = to_config_text(result.objects.iter().map(|o| (o.id.as_str(), &o.object)));
    let again = load_text(&text);
    assert!(
        errors(&again).is_empty(),
        "printed objects do not load back: {:?}\n--- printed ---\n{text}",
        errors(&again)
    );
    assert_eq!(
        triples(&result),
        triples(&again),
        "objects changed through to_config_text\n--- printed ---\n{text}"
    );
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn arbitrary_bytes_never_panic(
        main in prop::collection::vec(any::<u8>(), 0..2048),
        a in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let fs = MemFs::new().with(MAIN, main).with("/etc/pjsip/a.conf", a);
        exercise(&fs);
    }

    #[test]
    fn arbitrary_text_never_panics(main in "\\PC{0,400}", nl in prop::collection::vec(0usize..400, 0..20)) {
        // Printable text with newlines sprinkled in.
        let mut chars: Vec<char> = main.chars().collect();
        for i in nl {
            let at = i.min(chars.len());
            chars.insert(at, '\n');
        }
        let text: String = chars.into_iter().collect();
        let r = ini::read_str(&MemFs::new(), Path::new(MAIN), &text);
        if let Ok(r) = &r {
            for d in &r.diagnostics {
                let _ = d.to_string();
            }
        }
        exercise(&MemFs::new().with(MAIN, text.into_bytes()));
    }

    #[test]
    fn config_like_text_never_panics(
        main in config_like_text(),
        a in config_like_text(),
        b in config_like_text(),
    ) {
        let fs = MemFs::new()
            .with(MAIN, main.into_bytes())
            .with("/etc/pjsip/a.conf", a.into_bytes())
            .with("/etc/pjsip/b.conf", b.into_bytes());
        exercise(&fs);
    }
}

// ---------------------------------------------------------------------------------------------
// b. Round trip of generated valid objects
// ---------------------------------------------------------------------------------------------

/// How a generated line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `name=value`.
    Set,
    /// `name = value ; comment`.
    Spaced,
    /// `name => value`.
    Arrow,
    /// `name\t=\tvalue`.
    Tabs,
    /// `name += value` (appends text to the last line of that name).
    Append,
}

/// One generated option line.
#[derive(Clone, Debug)]
struct Opt {
    name: &'static str,
    value: String,
    op: Op,
}

/// One generated object.
#[derive(Clone, Debug)]
struct Sec {
    kind: Kind,
    id: String,
    opts: Vec<Opt>,
}

/// Escapes what the reader would take as a comment.
fn escape(v: &str) -> String {
    v.replace(';', "\\;")
}

fn write_line(out: &mut String, o: &Opt) {
    let v = escape(&o.value);
    let n = o.name;
    match o.op {
        Op::Set => out.push_str(&format!("{n}={v}\n")),
        Op::Spaced => out.push_str(&format!("{n} = {v} ; a comment\n")),
        Op::Arrow => out.push_str(&format!("{n} => {v}\n")),
        Op::Tabs => out.push_str(&format!("  {n}\t=\t{v}  ;-- block --; \n")),
        Op::Append => out.push_str(&format!("{n} += {v}\n")),
    }
}

fn write_sections(secs: &[Sec]) -> String {
    let mut out = String::from("; generated\n\n");
    for s in secs {
        out.push_str(&format!("[{}]\ntype={}\n", s.id, s.kind));
        for o in &s.opts {
            write_line(&mut out, o);
        }
        out.push('\n');
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Set),
        1 => Just(Op::Spaced),
        1 => Just(Op::Arrow),
        1 => Just(Op::Tabs),
    ]
}

fn opt(name: &'static str, value: impl Strategy<Value = String>) -> impl Strategy<Value = Opt> {
    (value, op()).prop_map(move |(value, op)| Opt { name, value, op })
}

fn id() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_-]{1,12}"
}

fn id_list() -> impl Strategy<Value = String> {
    prop::collection::vec(id(), 1..4).prop_map(|v| v.join(","))
}

/// Free text for strings such as context, username, password: no leading or trailing blanks
/// (the reader trims them), no leading `>` (`name=>value` is the `=>` operator), but `;`,
/// `=`, `#`, brackets, backslashes, inner spaces and non-ASCII letters.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_.@:/=+;#\\[\\]\\\\éß-]([a-zA-Z0-9 _.@:/=+;#\\[\\]\\\\éß-]{0,14}[a-zA-Z0-9_.@:/=+;#\\[\\]\\\\éß-])?"
}

fn codec_list() -> impl Strategy<Value = String> {
    const ITEMS: &[&str] = &[
        "ulaw", "alaw", "g722", "g729", "gsm", "opus", "ULAW", "ulaw:20", "alaw:30", "!g729",
        "!ulaw", "all", "!all", "h264", "vp8",
    ];
    prop::collection::vec(prop::sample::select(ITEMS), 1..4).prop_map(|v| v.join(","))
}

fn identify_by() -> impl Strategy<Value = String> {
    // `anonymous` is an identifier name that the endpoint refuses as a method.
    let methods: Vec<&str> = IdentifyMethod::SPELLINGS
        .iter()
        .copied()
        .filter(|m| *m != "anonymous")
        .collect();
    let n = methods.len();
    prop::sample::subsequence(methods, 0..=n)
        .prop_shuffle()
        .prop_map(|v| v.join(","))
}

fn endpoint_opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        3 => opt("context", text()),
        2 => opt("allow", codec_list()),
        1 => opt("disallow", prop::sample::select(&["all", "g729", "ulaw,alaw"][..]).prop_map(str::to_string)),
        2 => opt("aors", id_list()),
        1 => opt("auth", id_list()),
        1 => opt("outbound_auth", id_list()),
        1 => opt("transport", id()),
        1 => opt("identify_by", identify_by()),
        1 => opt("dtmf_mode", prop::sample::select(DtmfMode::SPELLINGS).prop_map(str::to_string)),
    ]
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,6}){0,2}",
        any::<Ipv4Addr>().prop_map(|a| a.to_string()),
        any::<Ipv6Addr>().prop_map(|a| format!("[{a}]")),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        prop::sample::select(&["sip", "sips", "SIP"][..]),
        prop::option::of("[a-zA-Z0-9_.+-]{1,10}"),
        host(),
        prop::option::of(1u16..),
        prop::option::of(prop::sample::select(&[";transport=tcp", ";lr", ";x=y"][..])),
    )
        .prop_map(|(scheme, user, host, port, params)| {
            let mut s = format!("{scheme}:");
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            if let Some(p) = params {
                s.push_str(p);
            }
            s
        })
}

fn aor_opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        2 => opt("max_contacts", any::<u32>().prop_map(|n| n.to_string())),
        2 => opt("contact", sip_uri()),
        1 => opt("qualify_frequency", (0u32..=86_400).prop_map(|n| n.to_string())),
    ]
}

fn auth_opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        1 => opt("username", text()),
        2 => opt("password", text()),
        1 => opt("realm", text()),
    ]
}

/// A network or address an identify can match (no IPv6 with a port: see `config_bad_input`).
fn match_target() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<Ipv4Addr>().prop_map(|a| a.to_string()),
        (any::<Ipv4Addr>(), 0u8..=32).prop_map(|(a, l)| format!("{a}/{l}")),
        (any::<Ipv4Addr>(), any::<u16>()).prop_map(|(a, p)| format!("{a}:{p}")),
        (any::<Ipv4Addr>(), 0u8..=32, any::<u16>()).prop_map(|(a, l, p)| format!("{a}/{l}:{p}")),
        any::<Ipv6Addr>().prop_map(|a| a.to_string()),
        (any::<Ipv6Addr>(), 0u8..=128).prop_map(|(a, l)| format!("{a}/{l}")),
        "[a-z][a-z0-9-]{0,8}(\\.[a-z]{2,6}){0,2}",
        ("[a-z][a-z0-9-]{0,8}\\.[a-z]{2,6}", any::<u16>()).prop_map(|(h, p)| format!("{h}:{p}")),
    ]
}

fn bind() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("0.0.0.0".to_string()),
        Just("[::]".to_string()),
        any::<Ipv4Addr>().prop_map(|a| a.to_string()),
        (any::<Ipv4Addr>(), any::<u16>()).prop_map(|(a, p)| format!("{a}:{p}")),
        any::<Ipv6Addr>().prop_map(|a| a.to_string()),
        (any::<Ipv6Addr>(), any::<u16>()).prop_map(|(a, p)| format!("[{a}]:{p}")),
    ]
}

fn required(
    name: &'static str,
    value: impl Strategy<Value = String>,
) -> impl Strategy<Value = Vec<Opt>> {
    opt(name, value).prop_map(|o| vec![o])
}

/// Extra lines plus the required ones, in random order.
fn lines_with(
    required: impl Strategy<Value = Vec<Opt>>,
    extra: impl Strategy<Value = Opt>,
    max: usize,
) -> impl Strategy<Value = Vec<Opt>> {
    (required, prop::collection::vec(extra, 0..max))
        .prop_map(|(mut r, e)| {
            r.extend(e);
            r
        })
        .prop_shuffle()
}

/// What every auth needs: a username and a password.
fn credentials() -> impl Strategy<Value = Vec<Opt>> {
    (opt("username", text()), opt("password", text())).prop_map(|(u, p)| vec![u, p])
}

fn section() -> impl Strategy<Value = Sec> {
    let sec = |kind: Kind, opts: BoxedStrategy<Vec<Opt>>| {
        (id(), opts).prop_map(move |(id, opts)| Sec { kind, id, opts })
    };
    prop_oneof![
        4 => sec(Kind::Endpoint, prop::collection::vec(endpoint_opt(), 0..10).boxed()),
        2 => sec(Kind::Aor, prop::collection::vec(aor_opt(), 0..6).boxed()),
        2 => sec(Kind::Auth, lines_with(credentials(), auth_opt(), 4).boxed()),
        1 => sec(
            Kind::Identify,
            lines_with(
                (opt("endpoint", id()), opt("match", prop::collection::vec(match_target(), 1..4).prop_map(|v| v.join(","))))
                    .prop_map(|(a, b)| vec![a, b]),
                opt("match", match_target()),
                3,
            )
            .boxed(),
        ),
        1 => sec(
            Kind::Transport,
            lines_with(
                required("bind", bind()),
                opt("protocol", prop::sample::select(TransportProtocol::SPELLINGS).prop_map(str::to_string)),
                2,
            )
            .boxed(),
        ),
    ]
}

fn lines_of(opts: &[(String, String)]) -> Vec<Line> {
    opts.iter()
        .map(|(n, v)| Line {
            name: n.clone(),
            value: v.clone(),
            location: Location::synthetic("test"),
        })
        .collect()
}

/// The object that applying `vars` directly gives (no reader involved).
fn direct(kind: Kind, id: &str, vars: &[(String, String)]) -> Object {
    let built = build_object(kind, id, &lines_of(vars));
    let errs: Vec<String> = built.errors.iter().map(ToString::to_string).collect();
    assert!(errs.is_empty(), "{kind} '{id}' from {vars:?}: {errs:?}");
    built.object
}

/// The reader's semantics for one line added to a section's variables: `+=` appends text to
/// the last variable of that name (then trims the end), or acts as `=`.
fn add_var(vars: &mut Vec<(String, String)>, o: &Opt) {
    if o.op == Op::Append
        && let Some((_, v)) = vars.iter_mut().rev().find(|(n, _)| n == o.name)
    {
        v.push_str(&o.value);
        let keep = v.trim_end().len();
        v.truncate(keep);
        return;
    }
    vars.push((o.name.to_string(), o.value.clone()));
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn generated_objects_round_trip(secs in prop::collection::vec(section(), 1..24)) {
        let mut seen = HashSet::new();
        let secs: Vec<Sec> = secs.into_iter().filter(|s| seen.insert((s.kind, s.id.clone()))).collect();
        let text = write_sections(&secs);

        let a = load_text(&text);
        prop_assert!(errors(&a).is_empty(), "{:?}\n--- text ---\n{}", errors(&a), text);
        prop_assert_eq!(a.objects.len(), secs.len(), "\n--- text ---\n{}", text);
        for (s, o) in secs.iter().zip(&a.objects) {
            prop_assert_eq!((s.kind, s.id.as_str()), (o.kind, o.id.as_str()));
            let mut vars = Vec::new();
            for l in &s.opts {
                add_var(&mut vars, l);
            }
            prop_assert_eq!(&o.object, &direct(s.kind, &s.id, &vars), "\n--- text ---\n{}", text);
        }

        let printed = to_config_text(a.objects.iter().map(|o| (o.id.as_str(), &o.object)));
        let b = load_text(&printed);
        prop_assert!(errors(&b).is_empty(), "{:?}\n--- printed ---\n{}", errors(&b), printed);
        prop_assert_eq!(triples(&a), triples(&b), "\n--- printed ---\n{}", printed);

        // Printing is a fixed point: printing B gives the same text.
        let printed_again = to_config_text(b.objects.iter().map(|o| (o.id.as_str(), &o.object)));
        prop_assert_eq!(printed, printed_again);
    }
}

// ---------------------------------------------------------------------------------------------
// b''. Every option of every type
// ---------------------------------------------------------------------------------------------

/// Every option of `kind` with its default text.
fn option_table(kind: Kind) -> &'static [OptionInfo] {
    match kind {
        Kind::Transport => Transport::OPTIONS,
        Kind::Endpoint => Endpoint::OPTIONS,
        Kind::Aor => Aor::OPTIONS,
        Kind::Auth => Auth::OPTIONS,
        Kind::Contact => Contact::OPTIONS,
        Kind::Identify => Identify::OPTIONS,
        Kind::Registration => Registration::OPTIONS,
        Kind::DomainAlias => DomainAlias::OPTIONS,
        Kind::Acl => Acl::OPTIONS,
        Kind::Global => Global::OPTIONS,
        Kind::System => System::OPTIONS,
    }
}

/// Lines without which an object of `kind` is refused.
fn base_lines(kind: Kind) -> Vec<(String, String)> {
    let lines: &[(&str, &str)] = match kind {
        Kind::Auth => &[("username", "u"), ("password", "p")],
        Kind::Identify => &[("endpoint", "e"), ("match", "10.0.0.1")],
        Kind::Transport => &[("bind", "0.0.0.0:5060")],
        Kind::Registration => &[
            ("server_uri", "sip:r.example.com"),
            ("client_uri", "sip:u@r.example.com"),
        ],
        Kind::Contact => &[("uri", "sip:c.example.com")],
        Kind::DomainAlias => &[("domain", "example.com")],
        _ => &[],
    };
    lines
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// Values tried on every option (besides its default and the choices its errors list).
const POOL: &[&str] = &[
    "yes",
    "no",
    "true",
    "off",
    "0",
    "1",
    "2",
    "5",
    "30",
    "60",
    "90",
    "120",
    "1800",
    "3600",
    "65535",
    "0.5",
    "2.5",
    "-1",
    "ulaw",
    "alaw",
    "ulaw,alaw",
    "all",
    "!all",
    "g722:20",
    "sip:h.example.com",
    "sips:u@h.example.com:5061",
    "sip:u@10.0.0.1:5060;transport=tcp",
    "<sip:p.example.com;lr>",
    "10.0.0.1",
    "10.0.0.0/8",
    "192.168.0.0/255.255.0.0",
    "::1",
    "2001:db8::/32",
    "0.0.0.0",
    "0.0.0.0:5060",
    "[::]:5061",
    "h.example.com",
    "h.example.com:5060",
    "a",
    "x-y",
    "from-internal",
    "e",
    "u",
    "6001",
    "6001,6002",
    "\"Alice\" <6001>",
    "<6001>",
    "Alice <6001>",
    "rfc4733",
    "info",
    "udp",
    "tcp",
    "tls",
    "ws",
    "md5",
    "sha-256",
    "SHA-512-256",
    "username,ip",
    "ip",
    "header",
    "invite",
    "update",
    "always",
    "never",
    "required",
    "sdes",
    "dtls",
    "passive",
    "actpass",
    "fingerprint",
    "certificate",
    "self",
    "both",
    "incoming",
    "outgoing",
    "allowed_not_screened",
    "ef",
    "cs3",
    "af41",
    "0x10",
    "184",
    "/var/lib/pjsipd/x.pem",
    "en",
    "US",
    "X-Header: v",
    "X-H: /re.*/",
    "/^sip:.*/",
    "local",
    "remote_merge",
    "prefer: pending, operation: intersect, keep: all, transcode: allow",
    "sendrecv",
    "inactive",
    "t38",
    "redundancy",
    "ipv4_only",
    "1-3",
    "10000-20000",
    "x;y",
    "a b",
    "é",
];

/// The choices an error message lists ("... is not one of: a, b, c (did you mean ...)").
fn listed_choices(message: &str) -> Vec<String> {
    let Some((_, rest)) = message.split_once("is not one of: ") else {
        return Vec::new();
    };
    let rest = rest.split(" (did you mean").next().unwrap_or(rest);
    rest.split(", ").map(|c| c.trim().to_string()).collect()
}

/// One object of `kind` with random options: each candidate line is kept when the object
/// still builds without errors.
fn random_object(
    kind: Kind,
    id: &str,
    picks: &[(prop::sample::Index, prop::sample::Index, bool, Op)],
) -> Vec<Opt> {
    let names = kind.option_names();
    let table = option_table(kind);
    let base = base_lines(kind);
    let mut accepted: Vec<Opt> = base
        .iter()
        .map(|(n, v)| Opt {
            name: names.iter().copied().find(|x| x == n).unwrap_or("type"),
            value: v.clone(),
            op: Op::Set,
        })
        .collect();
    let builds = |opts: &[Opt]| {
        let vars: Vec<(String, String)> = opts
            .iter()
            .map(|o| (o.name.to_string(), o.value.clone()))
            .collect();
        build_object(kind, id, &lines_of(&vars)).errors
    };
    for (name_ix, value_ix, use_default, op) in picks {
        let name = *name_ix.get(&names);
        let default = table
            .iter()
            .find(|o| o.name == name)
            .map(|o| o.default)
            .filter(|d| !d.is_empty());
        let value = match default {
            Some(d) if *use_default => d.to_string(),
            _ => value_ix.get(POOL).to_string(),
        };
        let mut line = Opt {
            name,
            value,
            op: *op,
        };
        accepted.push(line.clone());
        let errors = builds(&accepted);
        if errors.is_empty() {
            continue;
        }
        accepted.pop();
        // A word from the list of allowed ones, when the error lists them.
        let choices: Vec<String> = errors
            .iter()
            .flat_map(|e| listed_choices(&e.message))
            .collect();
        if choices.is_empty() {
            continue;
        }
        line.value = value_ix.get(&choices).clone();
        accepted.push(line);
        if !builds(&accepted).is_empty() {
            accepted.pop();
        }
    }
    accepted
}

proptest! {
    #![proptest_config(config(192))]

    /// Random options of every type, with values from their defaults, a common pool and the
    /// choices their errors list: the objects load as applying the lines directly gives them,
    /// and survive printing.
    #[test]
    fn every_option_round_trips(
        objects in prop::collection::vec(
            (
                prop::sample::select(&Kind::ALL[..]),
                id(),
                prop::collection::vec(
                    (any::<prop::sample::Index>(), any::<prop::sample::Index>(), prop::bool::weighted(0.25), op()),
                    0..24,
                ),
            ),
            1..6,
        ),
    ) {
        let mut seen = HashSet::new();
        let mut secs = Vec::new();
        for (kind, id, picks) in objects {
            // Single-object types appear once.
            let key = if kind.is_single() { (kind, String::new()) } else { (kind, id.clone()) };
            if !seen.insert(key) {
                continue;
            }
            let opts = random_object(kind, &id, &picks);
            secs.push(Sec { kind, id, opts });
        }
        let text = write_sections(&secs);
        let a = load_text(&text);
        prop_assert!(errors(&a).is_empty(), "{:?}\n--- text ---\n{}", errors(&a), text);
        prop_assert_eq!(a.objects.len(), secs.len(), "\n--- text ---\n{}", text);
        for (s, o) in secs.iter().zip(&a.objects) {
            let vars: Vec<(String, String)> =
                s.opts.iter().map(|o| (o.name.to_string(), o.value.clone())).collect();
            prop_assert_eq!(&o.object, &direct(s.kind, &s.id, &vars), "\n--- text ---\n{}", text);
        }
        let printed = to_config_text(a.objects.iter().map(|o| (o.id.as_str(), &o.object)));
        let b = load_text(&printed);
        prop_assert!(errors(&b).is_empty(), "{:?}\n--- text ---\n{}\n--- printed ---\n{}", errors(&b), text, printed);
        prop_assert_eq!(triples(&a), triples(&b), "\n--- text ---\n{}\n--- printed ---\n{}", text, printed);
        let printed_again = to_config_text(b.objects.iter().map(|o| (o.id.as_str(), &o.object)));
        prop_assert_eq!(printed, printed_again);
    }
}

// ---------------------------------------------------------------------------------------------
// b'. Templates and inheritance
// ---------------------------------------------------------------------------------------------

/// `+=` lines: text appended to an earlier line of the same name.
fn append_opt() -> impl Strategy<Value = Opt> {
    prop_oneof![
        ("[a-z0-9_-]{1,6}").prop_map(|v| Opt {
            name: "context",
            value: v,
            op: Op::Append
        }),
        prop::sample::select(&[",alaw", ",!ulaw", ",g722:20"][..]).prop_map(|v| Opt {
            name: "allow",
            value: v.to_string(),
            op: Op::Append
        }),
        id().prop_map(|v| Opt {
            name: "aors",
            value: format!(",{v}"),
            op: Op::Append
        }),
    ]
}

fn endpoint_line() -> impl Strategy<Value = Opt> {
    prop_oneof![4 => endpoint_opt(), 1 => append_opt()]
}

/// How an endpoint section names its templates.
#[derive(Clone, Copy, Debug)]
enum Inherit {
    /// `[id](ep.a)`.
    A,
    /// `[id](ep.b)`, where `[ep.b](!,ep.a)`.
    B,
    /// `[id](ep.a,ep.b)`: ep.a's lines come twice.
    AB,
    /// `[id]` with its own `type=endpoint`.
    None,
}

#[derive(Clone, Debug)]
struct TemplatedEndpoint {
    id: String,
    inherit: Inherit,
    own: Vec<Opt>,
    /// Lines added later in the file by `[id](+)`.
    appended: Vec<Opt>,
    /// Aor `[id](aor.t)` own lines.
    aor: Vec<Opt>,
    /// Auth `[id](auth.t)` own lines.
    auth: Vec<Opt>,
}

fn templated_endpoint() -> impl Strategy<Value = TemplatedEndpoint> {
    (
        id(),
        prop_oneof![
            Just(Inherit::A),
            Just(Inherit::B),
            Just(Inherit::AB),
            Just(Inherit::None)
        ],
        prop::collection::vec(endpoint_line(), 0..6),
        prop::collection::vec(endpoint_line(), 0..3),
        prop::collection::vec(aor_opt(), 0..3),
        lines_with(credentials(), auth_opt(), 2),
    )
        .prop_map(
            |(id, inherit, own, appended, aor, auth)| TemplatedEndpoint {
                id,
                inherit,
                own,
                appended,
                aor,
                auth,
            },
        )
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn templates_equal_applying_the_lines_directly(
        tpl_a in prop::collection::vec(endpoint_line(), 0..6),
        tpl_b in prop::collection::vec(endpoint_line(), 0..4),
        aor_t in prop::collection::vec(aor_opt(), 0..4),
        auth_t in prop::collection::vec(auth_opt(), 0..3),
        eps in prop::collection::vec(templated_endpoint(), 1..10),
    ) {
        let mut seen = HashSet::new();
        let eps: Vec<TemplatedEndpoint> = eps.into_iter().filter(|e| seen.insert(e.id.clone())).collect();

        // Template names use '.', which generated ids never contain.
        let mut text = String::from("[ep.a](!)\ntype=endpoint\n");
        let mut vars_a = vec![("type".to_string(), "endpoint".to_string())];
        for o in &tpl_a {
            write_line(&mut text, o);
            add_var(&mut vars_a, o);
        }
        text.push_str("\n[ep.b](!,ep.a)\n");
        let mut vars_b = vars_a.clone();
        for o in &tpl_b {
            write_line(&mut text, o);
            add_var(&mut vars_b, o);
        }
        text.push_str("\n[aor.t](!)\ntype=aor\n");
        let mut vars_aor_t = vec![("type".to_string(), "aor".to_string())];
        for o in &aor_t {
            write_line(&mut text, o);
            add_var(&mut vars_aor_t, o);
        }
        text.push_str("\n[auth.t](!)\ntype=auth\n");
        let mut vars_auth_t = vec![("type".to_string(), "auth".to_string())];
        for o in &auth_t {
            write_line(&mut text, o);
            add_var(&mut vars_auth_t, o);
        }

        // Aors and auths first, so that `[id](+)` at the end appends to the endpoint (the
        // last section of that name).
        let mut expected = Vec::new();
        for e in &eps {
            text.push_str(&format!("\n[{}](aor.t)\n", e.id));
            let mut vars = vars_aor_t.clone();
            for o in &e.aor {
                write_line(&mut text, o);
                add_var(&mut vars, o);
            }
            expected.push((Kind::Aor, e.id.clone(), vars));
            text.push_str(&format!("\n[{}](auth.t)\n", e.id));
            let mut vars = vars_auth_t.clone();
            for o in &e.auth {
                write_line(&mut text, o);
                add_var(&mut vars, o);
            }
            expected.push((Kind::Auth, e.id.clone(), vars));
        }
        let mut endpoint_vars = Vec::new();
        for e in &eps {
            let mut vars = match e.inherit {
                Inherit::A => {
                    text.push_str(&format!("\n[{}](ep.a)\n", e.id));
                    vars_a.clone()
                }
                Inherit::B => {
                    text.push_str(&format!("\n[{}](ep.b)\n", e.id));
                    vars_b.clone()
                }
                Inherit::AB => {
                    text.push_str(&format!("\n[{}]( ep.a , ep.b )\n", e.id));
                    let mut v = vars_a.clone();
                    v.extend(vars_b.iter().cloned());
                    v
                }
                Inherit::None => {
                    text.push_str(&format!("\n[{}]\ntype=endpoint\n", e.id));
                    vec![("type".to_string(), "endpoint".to_string())]
                }
            };
            for o in &e.own {
                write_line(&mut text, o);
                add_var(&mut vars, o);
            }
            endpoint_vars.push(vars);
        }
        for (e, vars) in eps.iter().zip(&mut endpoint_vars) {
            if e.appended.is_empty() {
                continue;
            }
            text.push_str(&format!("\n[{}](+)\n", e.id));
            for o in &e.appended {
                write_line(&mut text, o);
                add_var(vars, o);
            }
        }
        for (e, vars) in eps.iter().zip(endpoint_vars) {
            expected.push((Kind::Endpoint, e.id.clone(), vars));
        }

        let loaded = load_text(&text);
        prop_assert!(errors(&loaded).is_empty(), "{:?}\n--- text ---\n{}", errors(&loaded), text);
        prop_assert_eq!(loaded.objects.len(), expected.len(), "\n--- text ---\n{}", text);

        // The same lines written flat, without templates.
        let mut flat = String::new();
        for (_, id, vars) in &expected {
            flat.push_str(&format!("[{id}]\n"));
            for (n, v) in vars {
                flat.push_str(&format!("{n} = {}\n", escape(v)));
            }
            flat.push('\n');
        }
        let flat_loaded = load_text(&flat);
        prop_assert!(errors(&flat_loaded).is_empty(), "{:?}\n--- flat ---\n{}", errors(&flat_loaded), flat);

        for (kind, id, vars) in &expected {
            let want = direct(*kind, id, vars);
            for (what, r) in [("templated", &loaded), ("flat", &flat_loaded)] {
                let got = r.objects.iter().find(|o| o.kind == *kind && o.id == *id);
                prop_assert!(got.is_some(), "{} {} '{}' missing\n--- text ---\n{}", what, kind, id, text);
                prop_assert_eq!(&got.unwrap().object, &want, "{} {} '{}'\n--- text ---\n{}", what, kind, id, text);
            }
        }

        // And the templated objects survive printing.
        let printed = to_config_text(loaded.objects.iter().map(|o| (o.id.as_str(), &o.object)));
        let again = load_text(&printed);
        prop_assert!(errors(&again).is_empty(), "{:?}\n--- printed ---\n{}", errors(&again), printed);
        prop_assert_eq!(triples(&loaded), triples(&again));
    }
}

// ---------------------------------------------------------------------------------------------
// Values that the generators above avoid because they expose bugs in src/ (see the report).
// ---------------------------------------------------------------------------------------------

/// IPv6 addresses with runs of zero groups (written with `::`), as real ones usually are.
fn compressed_ipv6() -> impl Strategy<Value = Ipv6Addr> {
    (any::<[u16; 8]>(), prop::collection::vec(0usize..8, 2..7)).prop_map(|(mut g, zeros)| {
        for z in zeros {
            g[z] = 0;
        }
        Ipv6Addr::from(g)
    })
}

proptest! {
    #![proptest_config(config(64))]

    /// `match=[v6]:port` is the IPv6 address `v6` with port `port`.
    ///
    /// BUG (src/config/options/values.rs `parse_network`, reached first from
    /// `MatchTarget::from_str` in src/config/types/identify.rs): `[2001:db8::1]:5060` has its
    /// brackets removed and becomes `2001:db8::1:5060`, a different, valid IPv6 address with
    /// no port. Any compressed address with a port below 10000 is silently misread.
    #[test]
    fn identify_match_ipv6_with_port(
        addr in prop_oneof![compressed_ipv6(), any::<Ipv6Addr>()],
        port in prop_oneof![1u16..10_000, any::<u16>()],
    ) {
        let text = format!("[i]\ntype=identify\nendpoint=e\nmatch=[{addr}]:{port}\n");
        let r = load_text(&text);
        prop_assert!(errors(&r).is_empty(), "{:?}", errors(&r));
        let Some(Object::Identify(i)) = r.objects.first().map(|o| &o.object) else {
            panic!("no identify: {:?}", r.objects);
        };
        let want = MatchTarget::Network { net: std::net::IpAddr::V6(addr).into(), port: Some(port) };
        prop_assert_eq!(&i.r#match.0, &vec![want], "match=[{}]:{}", addr, port);
    }
}

/// Loads `text`, prints its objects and loads the printout: both must agree.
fn assert_round_trips(text: &str) {
    let a = load_text(text);
    assert!(errors(&a).is_empty(), "{:?}", errors(&a));
    assert_eq!(a.objects.len(), 1, "{text}");
    let printed = to_config_text(a.objects.iter().map(|o| (o.id.as_str(), &o.object)));
    let b = load_text(&printed);
    assert!(
        errors(&b).is_empty(),
        "{:?}\n--- printed ---\n{printed}",
        errors(&b)
    );
    assert_eq!(triples(&a), triples(&b), "\n--- printed ---\n{printed}");
}

/// BUG (src/config/build/mod.rs `to_config_text`): `context = >x` reads as the value `>x`
/// (the `=>` operator is only `=` immediately followed by `>`), but it is printed as
/// `context=>x`, which reads back as `x`.
#[test]
fn value_starting_with_gt_round_trips() {
    assert_round_trips("[6001]\ntype=endpoint\ncontext = >from-internal\n");
}

/// BUG (src/config/build/mod.rs `to_config_text`): `[a\;b]` is the id `a;b`, but the header
/// is printed unescaped as `[a;b]`, which reads back as `[a` ("no closing ']'").
#[test]
fn id_with_semicolon_round_trips() {
    assert_round_trips("[a\\;b]\ntype=aor\nmax_contacts=1\n");
}
