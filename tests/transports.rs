//! The daemon's connection-oriented transports with real clients: plain TCP sockets,
//! rustls (TLS), and tokio-tungstenite (WebSocket, RFC 7118). Each test starts the binary
//! on port 0 and reads the bound ports from `pjsip show transports`.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, ServerName};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CONF: &str = "
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:0

[transport-tcp]
type=transport
protocol=tcp
bind=127.0.0.1:0

[transport-ws]
type=transport
protocol=ws
bind=127.0.0.1:0

[trunk]
type=endpoint
context=from-trunk

[trunk-identify]
type=identify
endpoint=trunk
match=127.0.0.1
";

const TLS_CONF: &str = "
[transport-tls]
type=transport
protocol=tls
bind=127.0.0.1:0
cert_file=server.pem
priv_key_file=server.key
method=tlsv1_2

[transport-wss]
type=transport
protocol=wss
bind=127.0.0.1:0
cert_file=server.pem
priv_key_file=server.key
";

/// Bound for one read in these tests.
const READ: Duration = Duration::from_secs(5);

fn setup(extra_conf: &str, sip_toml: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pjsipd-transports")
        .tempdir()
        .expect("temporary directory");
    write(dir.path(), "pjsip.conf", &format!("{CONF}{extra_conf}"));
    write(
        dir.path(),
        "pjsipd.toml",
        &format!(
            "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"data\"\n\n[log]\nlevel = \"debug\"\n\n[sip]\n{sip_toml}"
        ),
    );
    write(
        dir.path(),
        "extensions.conf",
        "[from-trunk]\nexten => 100,1,Answer()\n",
    );
    dir
}

/// A daemon on `setup(extra_conf, sip_toml)` and the port of `transport`.
fn start(extra_conf: &str, sip_toml: &str, transport: &str) -> (TempDir, Running, u16) {
    let dir = setup(extra_conf, sip_toml);
    let running = Running::start(dir.path());
    let port = port(dir.path(), transport);
    (dir, running, port)
}

/// The port `transport` listens on, from `pjsip show transports`. The CLI answers while
/// the transports are still being bound ("Listening: none"), so this waits (bounded).
fn port(dir: &Path, transport: &str) -> u16 {
    let mut text = String::new();
    let mut found = None;
    wait_until(WAIT, || {
        text = String::from_utf8_lossy(&rx(dir, "pjsip show transports").stdout).into_owned();
        found = text
            .split("Listening:")
            .nth(1)
            .and_then(|l| {
                l.lines()
                    .find(|line| line.split_whitespace().next() == Some(transport))
                    .and_then(|line| line.split_whitespace().nth(2))
                    .and_then(|a| a.parse::<std::net::SocketAddr>().ok())
            })
            .map(|a| a.port());
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no listener for {transport} within {WAIT:?} in:\n{text}"))
}

fn connections(dir: &Path, transport: &str) -> Option<usize> {
    let out = rx(dir, "pjsip show transports");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(transport))
        .find_map(|l| l.split("connections: ").nth(1)?.trim().parse().ok())
}

fn options(proto: &str, branch: &str, user: &str) -> String {
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!(
        "OPTIONS sip:{at}127.0.0.1 SIP/2.0\r\n\
         Via: SIP/2.0/{proto} client.invalid;rport;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:tester@127.0.0.1>;tag={branch}\r\n\
         To: <sip:127.0.0.1>\r\n\
         Call-ID: {branch}@test\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Reads until `text` holds `count` SIP responses (status lines), bounded by [`READ`].
async fn read_responses<S: AsyncRead + Unpin>(stream: &mut S, count: usize) -> String {
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + READ;
    while text.matches("SIP/2.0 ").count() < count {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) => panic!("connection closed; got so far:\n{text}"),
            Ok(Ok(n)) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(e)) => panic!("read failed: {e}; got so far:\n{text}"),
            Err(_) => panic!("no {count} responses within {READ:?}; got:\n{text}"),
        }
    }
    text
}

/// True when the peer closes the connection within `limit` (reads everything until then).
async fn closed_within<S: AsyncRead + Unpin>(stream: &mut S, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn tcp_frames_pipelined_messages_answers_on_the_connection_and_pongs() {
    let (dir, _d, port) = start("", "", "transport-tcp");
    runtime().block_on(async {
        let mut s = tcp(port).await;
        // Two messages and a keep-alive ping in one write, the second split across two.
        let both = format!(
            "{}{}",
            options("TCP", "t1", ""),
            options("TCP", "t2", "100")
        );
        let (a, b) = both.split_at(both.len() - 20);
        s.write_all(a.as_bytes()).await.expect("write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.write_all(b.as_bytes()).await.expect("write");
        let text = read_responses(&mut s, 2).await;
        assert_eq!(text.matches("SIP/2.0 200 OK").count(), 2, "{text}");
        assert!(
            text.contains("received=127.0.0.1"),
            "RFC 3581 received: {text}"
        );
        assert!(text.contains(";rport="), "RFC 3581 rport filled in: {text}");
        assert_eq!(connections(dir.path(), "transport-tcp"), Some(1));
        // RFC 5626 3.5.1: CRLFCRLF ping, CRLF pong.
        s.write_all(b"\r\n\r\n").await.expect("ping");
        let mut pong = [0u8; 2];
        tokio::time::timeout(READ, s.read_exact(&mut pong))
            .await
            .expect("pong in time")
            .expect("pong");
        assert_eq!(&pong, b"\r\n");
        // An extension that does not exist: 404 over the same connection.
        s.write_all(options("TCP", "t3", "999").as_bytes())
            .await
            .expect("write");
        let text = read_responses(&mut s, 1).await;
        assert!(text.starts_with("SIP/2.0 404"), "{text}");
    });
}

#[test]
fn tcp_keepalive_enable_turns_on_os_keepalive_probes() {
    let conf = "\n[transport-tcp](+)\ntcp_keepalive_enable=yes\ntcp_keepalive_idle_time=7\n";
    let (_dir, _d, port) = start(conf, "", "transport-tcp");
    runtime().block_on(async {
        let mut s = tcp(port).await;
        s.write_all(options("TCP", "k1", "").as_bytes())
            .await
            .expect("write");
        read_responses(&mut s, 1).await;
        // The daemon's side of the connection (source port = the listener's) has a
        // keep-alive timer of at most 7 s (ss prints `timer:(keepalive,6.9sec,0)`).
        let out = std::process::Command::new("ss")
            .args([
                "-tnoH",
                "state",
                "established",
                &format!("( sport = :{port} )"),
            ])
            .output()
            .expect("ss (iproute2) is needed by this test");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains("timer:(keepalive,"),
            "no keep-alive timer:\n{text}"
        );
    });
}

#[test]
fn tcp_peer_that_stalls_mid_message_loses_only_its_connection() {
    let (dir, _d, port) = start("", "stream_message_timeout = 1\n", "transport-tcp");
    runtime().block_on(async {
        let mut stalled = tcp(port).await;
        let half = options("TCP", "s1", "");
        stalled
            .write_all(&half.as_bytes()[..60])
            .await
            .expect("write half");
        let mut good = tcp(port).await;
        assert!(
            ask(&mut good, "TCP", "s2", "")
                .await
                .starts_with("SIP/2.0 200")
        );
        assert!(
            closed_within(&mut stalled, Duration::from_secs(5)).await,
            "the stalled connection was not closed"
        );
        assert_eq!(
            connections(dir.path(), "transport-tcp"),
            Some(1),
            "the closed connection is no longer counted"
        );
        assert!(
            ask(&mut good, "TCP", "s3", "")
                .await
                .starts_with("SIP/2.0 200"),
            "the other connection still works"
        );
    });
}

#[test]
fn tcp_message_without_content_length_gets_400_and_the_connection_closes() {
    let (_dir, _d, port) = start("", "", "transport-tcp");
    runtime().block_on(async {
        let mut s = tcp(port).await;
        let text = options("TCP", "n1", "").replace("Content-Length: 0\r\n", "");
        s.write_all(text.as_bytes()).await.expect("write");
        let answer = read_responses(&mut s, 1).await;
        assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
        assert!(closed_within(&mut s, READ).await);
    });
}

#[test]
fn tcp_overload_is_answered_503_with_retry_after_and_counted() {
    // One queue holding one message: a burst of pipelined requests overflows it.
    let (dir, _d, port) = start("", "queues = 1\nqueue_depth = 1\n", "transport-tcp");
    runtime().block_on(async {
        let mut s = tcp(port).await;
        let burst: String = (0..300)
            .map(|i| options("TCP", &format!("o{i}"), ""))
            .collect();
        s.write_all(burst.as_bytes()).await.expect("write");
        let text = read_responses(&mut s, 300).await;
        let ok = text.matches("SIP/2.0 200 OK").count();
        let refused = text.matches("SIP/2.0 503 Service Unavailable").count();
        assert_eq!(ok + refused, 300, "one answer each:\n{text}");
        assert_eq!(text.matches("Retry-After: ").count(), refused, "{text}");
        let out = rx(dir.path(), "pjsip show distributor");
        let counters = String::from_utf8_lossy(&out.stdout).into_owned();
        let counted = counters
            .lines()
            .find(|l| l.starts_with("Refused"))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse::<usize>().ok());
        assert_eq!(counted, Some(refused), "{counters}");
    });
}

#[test]
fn tcp_message_over_the_size_limit_closes_the_connection() {
    let (_dir, _d, port) = start("", "", "transport-tcp");
    runtime().block_on(async {
        let mut s = tcp(port).await;
        let mut text = options("TCP", "big", "");
        text.insert_str(
            text.len() - 4,
            &format!("\r\nX-Pad: {}", "a".repeat(70_000)),
        );
        // The daemon may close before everything is written: a failed write is fine.
        let _ = s.write_all(text.as_bytes()).await;
        assert!(
            closed_within(&mut s, READ).await,
            "a 70 kB message must not be accepted"
        );
    });
}

#[test]
fn malformed_datagrams_are_answered_or_dropped_and_counted() {
    let (dir, _d, port) = start("", "", "transport-udp");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(READ)).expect("timeout");
    for _ in 0..50 {
        sock.send_to(b"\x16\x03\x01 not sip at all", ("127.0.0.1", port))
            .expect("send");
    }
    // A request with a broken header but everything needed to answer it: 400.
    let broken = options("UDP", "m1", "").replace("CSeq: 1 OPTIONS", "CSeq: one OPTIONS");
    sock.send_to(broken.as_bytes(), ("127.0.0.1", port))
        .expect("send");
    let mut buf = [0u8; 2048];
    let (n, _) = sock.recv_from(&mut buf).expect("an answer");
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(answer.starts_with("SIP/2.0 400"), "{answer}");
    let out = rx(dir.path(), "pjsip show distributor");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let count = |label: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(label))
            .and_then(|l| l.split_whitespace().last())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no '{label}' in:\n{text}"))
    };
    assert_eq!(count("Received:"), 51, "{text}");
    assert_eq!(count("Malformed"), 50, "{text}");
    assert_eq!(count("Dropped unanswered:"), 50, "{text}");
    assert_eq!(count("Answered statelessly:"), 1, "{text}");
}

#[test]
fn unidentified_requests_are_counted_and_reported_once_per_burst() {
    let conf = "\n[global]\ntype=global\nendpoint_identifier_order=ip,username,auth_username\n\
                unidentified_request_count=3\n";
    let (dir, daemon, port) = start(conf, "", "transport-udp");
    // From an address no identify matches, a user no endpoint has.
    let sock = std::net::UdpSocket::bind("127.0.0.5:0").expect("bind 127.0.0.5");
    sock.set_read_timeout(Some(READ)).expect("timeout");
    let mut buf = [0u8; 4096];
    for i in 0..4 {
        let text = options("UDP", &format!("u{i}"), "").replace("sip:tester@", "sip:nobody@");
        sock.send_to(text.as_bytes(), ("127.0.0.1", port))
            .expect("send");
        let (n, _) = sock.recv_from(&mut buf).expect("an answer");
        assert!(
            buf[..n].starts_with(b"SIP/2.0 401"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    let out = rx(dir.path(), "pjsip show unidentified_requests");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = text
        .lines()
        .find(|l| l.starts_with("127.0.0.5"))
        .unwrap_or_else(|| panic!("{text}"));
    assert_eq!(row.split_whitespace().nth(1), Some("4"), "{text}");
    let log = daemon.log();
    let reported = log
        .matches("- No matching endpoint found after 3 tries in ")
        .count();
    assert_eq!(
        reported, 1,
        "one line for the burst, none per request:\n{log}"
    );
    assert_eq!(
        log.matches("- No matching endpoint found").count(),
        1,
        "{log}"
    );
}

#[test]
fn websocket_needs_the_sip_subprotocol_and_carries_one_message_per_frame() {
    let (dir, _d, port) = start("", "", "transport-ws");
    runtime().block_on(async {
        let url = format!("ws://127.0.0.1:{port}/ws");
        // Without "sip": refused (RFC 7118 4.1).
        let plain = url.clone().into_client_request().expect("request");
        let socket = tcp(port).await;
        assert!(
            tokio_tungstenite::client_async(plain, socket)
                .await
                .is_err()
        );

        let mut req = url.into_client_request().expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
        let socket = tcp(port).await;
        let (mut ws, resp) = tokio_tungstenite::client_async(req, socket)
            .await
            .expect("handshake");
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .map(|v| v.as_bytes()),
            Some(&b"sip"[..])
        );
        ws.send(WsMessage::text(options("WS", "w1", "100")))
            .await
            .expect("send");
        let answer = tokio::time::timeout(READ, ws.next())
            .await
            .expect("answer in time")
            .expect("a message")
            .expect("not an error");
        let text = answer.into_text().expect("text frame");
        assert!(text.starts_with("SIP/2.0 200 OK"), "{text}");
        assert!(
            text.contains("Via: SIP/2.0/WS client.invalid;rport="),
            "{text}"
        );
        assert_eq!(connections(dir.path(), "transport-ws"), Some(1));
    });
}

/// A CA and a server certificate for 127.0.0.1 signed by it, written to `dir`.
fn issue(
    dir: &Path,
    ca: &CertifiedIssuer<'static, KeyPair>,
    name: &str,
) -> CertificateDer<'static> {
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, ca).expect("sign");
    // Written beside and renamed: the daemon never reads a half-written file.
    write(dir, "server.pem.new", &cert.pem());
    write(dir, "server.key.new", &key.serialize_pem());
    std::fs::rename(dir.join("server.pem.new"), dir.join("server.pem")).expect("rename");
    std::fs::rename(dir.join("server.key.new"), dir.join("server.key")).expect("rename");
    cert.der().clone()
}

fn new_ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pjsipd test CA");
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

fn connector(ca: &CertifiedIssuer<'static, KeyPair>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    port: u16,
    connector: &tokio_rustls::TlsConnector,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let socket = tcp(port).await;
    let name = ServerName::try_from("127.0.0.1").expect("name");
    tokio::time::timeout(READ, connector.connect(name, socket))
        .await
        .expect("handshake in time")
        .expect("handshake")
}

fn peer_cert<S>(s: &tokio_rustls::client::TlsStream<S>) -> CertificateDer<'static> {
    s.get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .expect("a certificate")
        .clone()
        .into_owned()
}

/// Sends an OPTIONS (to `user`, or to the server without one) and reads its answer.
async fn ask<S: AsyncRead + AsyncWrite + Unpin>(
    s: &mut S,
    proto: &str,
    branch: &str,
    user: &str,
) -> String {
    s.write_all(options(proto, branch, user).as_bytes())
        .await
        .expect("write");
    read_responses(s, 1).await
}

async fn tcp(port: u16) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect")
}

#[test]
fn tls_serves_sip_and_reload_uses_new_certificate_files_for_new_handshakes_only() {
    let dir = setup(TLS_CONF, "");
    let ca = new_ca();
    let first = issue(dir.path(), &ca, "first");
    let _d = Running::start(dir.path());
    let port = port(dir.path(), "transport-tls");
    let connector = connector(&ca);
    runtime().block_on(async {
        let mut old = tls_connect(port, &connector).await;
        assert_eq!(peer_cert(&old), first);
        assert_eq!(
            old.get_ref().1.protocol_version(),
            Some(rustls::ProtocolVersion::TLSv1_2),
            "method=tlsv1_2"
        );
        assert!(
            ask(&mut old, "TLS", "l1", "")
                .await
                .starts_with("SIP/2.0 200")
        );

        let second = issue(dir.path(), &ca, "second");
        let reload = rx(dir.path(), "pjsip reload");
        assert!(
            reload.status.success(),
            "{}",
            String::from_utf8_lossy(&reload.stdout)
        );
        let mut new = tls_connect(port, &connector).await;
        assert_eq!(peer_cert(&new), second, "new handshakes use the new files");
        assert!(
            ask(&mut new, "TLS", "l2", "")
                .await
                .starts_with("SIP/2.0 200")
        );
        assert!(
            ask(&mut old, "TLS", "l3", "")
                .await
                .starts_with("SIP/2.0 200"),
            "open connections stay"
        );
        assert_eq!(connections(dir.path(), "transport-tls"), Some(2));

        // A broken key on disk: the reload says so and the running settings stay.
        write(dir.path(), "server.key", "not a key");
        let reload = rx(dir.path(), "pjsip reload");
        let text = String::from_utf8_lossy(&reload.stdout).into_owned();
        assert!(
            text.contains("transport-tls") && text.contains("priv_key_file"),
            "{text}"
        );
        let mut third = tls_connect(port, &connector).await;
        assert_eq!(peer_cert(&third), second);
        assert!(
            ask(&mut third, "TLS", "l4", "")
                .await
                .starts_with("SIP/2.0 200")
        );
    });
}

#[test]
fn secure_websocket_serves_sip() {
    let dir = setup(TLS_CONF, "");
    let ca = new_ca();
    issue(dir.path(), &ca, "wss");
    let _d = Running::start(dir.path());
    let port = port(dir.path(), "transport-wss");
    let connector = connector(&ca);
    runtime().block_on(async {
        let tls = tls_connect(port, &connector).await;
        let mut req = format!("wss://127.0.0.1:{port}/ws")
            .into_client_request()
            .expect("request");
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().expect("header"));
        let (mut ws, _) = tokio_tungstenite::client_async(req, tls)
            .await
            .expect("handshake");
        ws.send(WsMessage::text(options("WSS", "x1", "")))
            .await
            .expect("send");
        let answer = tokio::time::timeout(READ, ws.next())
            .await
            .expect("answer in time")
            .expect("a message")
            .expect("not an error");
        assert!(
            answer
                .into_text()
                .expect("text")
                .starts_with("SIP/2.0 200 OK")
        );
    });
}
