//! Black-box tests of the `pjsipd` binary: start-up, the control socket, reloads, signals,
//! systemd notifications, `--check`, and the systemd unit.
//!
//! Each test has its own configuration directory, with the control socket and data directory
//! inside it, so tests never collide. Every wait is bounded and fails loudly; a daemon still
//! running when a test ends (or panics) is killed by [`Running`]'s `Drop`.

mod common;

use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::*;
use tempfile::TempDir;

const PJSIP_CONF: &str = "\
[transport-udp]
type=transport
protocol=udp
bind=127.0.0.1:0

[transport-tcp]
type=transport
protocol=tcp
bind=127.0.0.1:0

[6001]
type=endpoint
context=from-internal
allow=ulaw
auth=6001
aors=6001

[6001]
type=auth
auth_type=userpass
username=6001
password=secret1

[6001]
type=aor
max_contacts=1

[6002]
type=endpoint
context=from-internal
allow=ulaw
auth=6002
aors=6002

[6002]
type=auth
auth_type=userpass
username=6002
password=secret2

[6002]
type=aor
max_contacts=1
";

const NEW_ENDPOINT: &str = "
[6003]
type=endpoint
context=from-internal
allow=ulaw
aors=6003

[6003]
type=aor
max_contacts=1
";

/// A configuration directory in a fresh temporary directory. Paths in `pjsipd.toml` are
/// relative: the daemon resolves them against the configuration directory.
fn config_dir() -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pjsipd-test")
        .tempdir()
        .expect("create a temporary directory");
    write(dir.path(), "pjsip.conf", PJSIP_CONF);
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"data\"\n\n[log]\nlevel = \"debug\"\n",
    );
    write(dir.path(), "extensions.conf", "[from-internal]\n");
    dir
}

#[test]
fn serves_commands_and_reloads_on_sighup() {
    let dir = config_dir();
    let daemon = Running::start(dir.path());

    let version = rx(dir.path(), "core show version");
    assert!(version.status.success(), "{version:?}");
    assert!(
        stdout(&version).starts_with("pjsipd "),
        "{}",
        stdout(&version)
    );

    let endpoints = rx(dir.path(), "pjsip show endpoints");
    assert!(endpoints.status.success(), "{endpoints:?}");
    let text = stdout(&endpoints);
    assert!(text.contains("6001") && text.contains("6002"), "{text}");
    assert!(!text.contains("6003"), "{text}");
    assert!(
        !rx(dir.path(), "pjsip show endpoint 6003").status.success(),
        "6003 exists before the reload"
    );

    // The data directory is created at start.
    assert!(dir.path().join("data").is_dir());

    append(dir.path(), "pjsip.conf", NEW_ENDPOINT);
    daemon.signal(libc::SIGHUP);
    let reloaded = wait_until(WAIT, || {
        rx(dir.path(), "pjsip show endpoint 6003").status.success()
    });
    assert!(
        reloaded,
        "endpoint 6003 not served after SIGHUP:\n{}",
        daemon.log()
    );
    let log = daemon.log();
    assert!(log.contains("SIGHUP"), "{log}");
    assert!(log.contains("2 created"), "{log}");
    // Each changed object is logged at debug.
    assert!(log.contains("created endpoint '6003'"), "{log}");

    // Still up after the reload, and a reload of the same files changes nothing.
    let again = rx(dir.path(), "pjsip reload");
    assert!(again.status.success(), "{again:?}");
    assert!(
        stdout(&again).contains("pjsip.conf unchanged"),
        "{}",
        stdout(&again)
    );
}

#[test]
fn broken_reload_keeps_the_running_configuration() {
    let dir = config_dir();
    let _daemon = Running::start(dir.path());

    append(
        dir.path(),
        "pjsip.conf",
        "\n[6004]\ntype=endpoint\naors=6004\ncolor=blue\n",
    );
    let lines = PJSIP_CONF.lines().count() + 5;
    let reload = rx(dir.path(), "pjsip reload");
    assert_eq!(reload.status.code(), Some(1), "{reload:?}");
    let text = stdout(&reload);
    let at = format!("pjsip.conf:{lines}:");
    assert!(text.contains(&at), "expected {at} in: {text}");
    assert!(text.contains("color"), "{text}");
    assert!(text.contains("Keeping the running configuration"), "{text}");

    // The old configuration is still served; the endpoint of the refused reload is not.
    let old = rx(dir.path(), "pjsip show endpoints");
    assert!(old.status.success(), "{old:?}");
    let text = stdout(&old);
    assert!(text.contains("6001") && text.contains("6002"), "{text}");
    let new = rx(dir.path(), "pjsip show endpoint 6004");
    assert!(!new.status.success(), "{new:?}");
    let uptime = rx(dir.path(), "core show uptime");
    assert!(uptime.status.success(), "{uptime:?}");
}

/// Successive reloads (incremental after a clean load) change, add and remove exactly what
/// the file says, and a load that started with errors is fully applied once they are fixed.
#[test]
fn successive_reloads_follow_the_file() {
    let dir = config_dir();
    append(
        dir.path(),
        "pjsip.conf",
        "\n[bad]\ntype=endpoint\ncolour=red\n",
    );
    let _daemon = Running::start(dir.path());
    assert!(!rx(dir.path(), "pjsip show endpoint bad").status.success());

    // Fix the bad endpoint: the first reload compares everything.
    let fixed = format!("{PJSIP_CONF}\n[bad]\ntype=endpoint\ncontext=fixed\n");
    write(dir.path(), "pjsip.conf", &fixed);
    let r = rx(dir.path(), "pjsip reload");
    assert!(r.status.success(), "{r:?}");
    assert!(
        stdout(&r).contains("1 created, 0 updated, 0 deleted"),
        "{}",
        stdout(&r)
    );

    // Change one endpoint: the second reload is incremental and changes only it.
    write(
        dir.path(),
        "pjsip.conf",
        &fixed.replace("context=fixed", "context=changed"),
    );
    let r = rx(dir.path(), "pjsip reload");
    assert!(
        stdout(&r).contains("0 created, 1 updated, 0 deleted"),
        "{}",
        stdout(&r)
    );
    let shown = stdout(&rx(dir.path(), "pjsip show endpoint bad"));
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with(" context ") && l.ends_with(": changed")),
        "{shown}"
    );

    // Remove it again: deleted, the others untouched.
    write(dir.path(), "pjsip.conf", PJSIP_CONF);
    let r = rx(dir.path(), "pjsip reload");
    assert!(
        stdout(&r).contains("0 created, 0 updated, 1 deleted"),
        "{}",
        stdout(&r)
    );
    assert!(!rx(dir.path(), "pjsip show endpoint bad").status.success());
    assert!(rx(dir.path(), "pjsip show endpoint 6001").status.success());

    // Nothing changed: nothing applied.
    let r = rx(dir.path(), "pjsip reload");
    assert!(
        stdout(&r).contains("pjsip.conf unchanged"),
        "{}",
        stdout(&r)
    );
}

#[test]
fn core_stop_gracefully_exits_zero_and_removes_the_socket() {
    let dir = config_dir();
    let mut daemon = Running::start(dir.path());
    let stop = rx(dir.path(), "core stop gracefully");
    assert!(stop.status.success(), "{stop:?}");
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    assert!(!socket_path(dir.path()).exists(), "socket left behind");

    let after = rx(dir.path(), "core show version");
    assert_eq!(after.status.code(), Some(1));
    assert!(
        stderr(&after).contains("Unable to connect to remote pjsipd"),
        "{after:?}"
    );
}

#[test]
fn sigterm_exits_zero_and_removes_the_socket() {
    let dir = config_dir();
    let mut daemon = Running::start(dir.path());
    daemon.signal(libc::SIGTERM);
    let status = daemon.wait_exit();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    assert!(!socket_path(dir.path()).exists(), "socket left behind");
    assert!(daemon.log().contains("SIGTERM"), "{}", daemon.log());
}

#[test]
fn sigint_exits_zero() {
    let dir = config_dir();
    let mut daemon = Running::start(dir.path());
    daemon.signal(libc::SIGINT);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
    assert!(!socket_path(dir.path()).exists(), "socket left behind");
}

#[test]
fn second_daemon_on_the_same_socket_is_refused() {
    let dir = config_dir();
    let _first = Running::start(dir.path());
    let second = pjsipd(dir.path(), &[]);
    assert_eq!(second.status.code(), Some(1), "{second:?}");
    assert!(
        stderr(&second).contains("another pjsipd is already running"),
        "{}",
        stderr(&second)
    );
    // The first one is unharmed.
    assert!(rx(dir.path(), "core show version").status.success());
}

#[test]
fn stale_socket_file_is_replaced() {
    let dir = config_dir();
    let socket = socket_path(dir.path());
    std::fs::create_dir_all(socket.parent().expect("socket has a parent")).expect("mkdir");
    // A socket file nobody listens on, as a killed daemon leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("bind a stale socket"));
    let _daemon = Running::start(dir.path());
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&socket).expect("socket").permissions(),
    );
    assert_eq!(mode & 0o777, 0o660);
}

#[test]
fn object_errors_at_start_skip_only_those_objects() {
    let dir = config_dir();
    append(
        dir.path(),
        "pjsip.conf",
        "\n[bad]\ntype=endpoint\ncolour=red\n",
    );
    let daemon = Running::start(dir.path());
    let log = daemon.log();
    assert!(log.contains("ERROR"), "{log}");
    assert!(log.contains("colour"), "{log}");
    let good = rx(dir.path(), "pjsip show endpoint 6001");
    assert!(good.status.success(), "{good:?}");
    assert!(!rx(dir.path(), "pjsip show endpoint bad").status.success());
}

#[test]
fn check_accepts_a_good_configuration() {
    let dir = config_dir();
    let out = pjsipd(dir.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.contains("pjsip.conf: 8 objects, 0 errors, 0 warnings"),
        "{text}"
    );
    // --check needs neither the socket nor the data directory.
    assert!(!dir.path().join("run").exists());
    assert!(!dir.path().join("data").exists());
}

#[test]
fn check_reports_every_problem_with_file_and_line() {
    let dir = config_dir();
    append(
        dir.path(),
        "pjsip.conf",
        "\n[bad1]\ntype=endpoint\ncolour=red\n\n[bad2]\ntype=aor\nmax_contacts=many\n",
    );
    let base = PJSIP_CONF.lines().count();
    let out = pjsipd(dir.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    for (line, word) in [(base + 4, "colour"), (base + 8, "max_contacts")] {
        let at = format!("pjsip.conf:{line}: error:");
        assert!(
            text.lines().any(|l| l.contains(&at) && l.contains(word)),
            "expected {at} ... {word} in:\n{text}"
        );
    }
    assert!(text.contains("2 errors"), "{text}");
}

#[test]
fn check_reports_a_bad_pjsipd_toml() {
    let dir = config_dir();
    write(
        dir.path(),
        "pjsipd.toml",
        "[log]\nlevel = \"info\"\nloudness = 3\n",
    );
    let out = pjsipd(dir.path(), &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = stdout(&out);
    assert!(text.contains("pjsipd.toml:3: error:"), "{text}");
    assert!(text.contains("loudness"), "{text}");
}

#[test]
fn missing_config_dir_is_a_clear_error() {
    let dir = config_dir();
    let missing = dir.path().join("nope");
    for args in [&[][..], &["--check"][..]] {
        let out = pjsipd(&missing, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("configuration directory"), "{all}");
        assert!(all.contains(&missing.display().to_string()), "{all}");
    }
}

#[test]
fn missing_pjsip_conf_is_a_clear_error() {
    let dir = config_dir();
    std::fs::remove_file(dir.path().join("pjsip.conf")).expect("remove pjsip.conf");
    let out = pjsipd(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("pjsip.conf: not found"), "{out:?}");
    assert!(!socket_path(dir.path()).exists(), "socket left behind");
}

#[test]
fn data_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = config_dir();
    // A regular file where a parent directory should be: create_dir_all must fail.
    write(dir.path(), "blocker", "");
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"blocker/data\"\n",
    );
    let out = pjsipd(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("data directory") && err.contains("blocker/data"),
        "{err}"
    );
}

#[test]
fn half_written_pjsipd_toml_is_refused_naming_the_line() {
    let dir = config_dir();
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ndata_dir = \"data\"\n[log]\nlevel = \"deb",
    );
    let out = pjsipd(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(err.contains("pjsipd.toml:4: error:"), "{err}");
}

#[test]
fn unknown_key_in_pjsipd_toml_is_refused() {
    let dir = config_dir();
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_sockett = \"run/x.ctl\"\n",
    );
    let out = pjsipd(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    assert!(
        err.contains("pjsipd.toml:2: error:") && err.contains("control_sockett"),
        "{err}"
    );
}

#[test]
fn rx_without_a_daemon_says_so_like_asterisk() {
    let dir = config_dir();
    let out = rx(dir.path(), "core show version");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let expected = format!(
        "Unable to connect to remote pjsipd (does {} exist?)",
        socket_path(dir.path()).display()
    );
    assert_eq!(stderr(&out).trim_end(), expected);
}

#[test]
fn unknown_command_exits_one() {
    let dir = config_dir();
    let _daemon = Running::start(dir.path());
    let out = rx(dir.path(), "core frobnicate");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("No such command"), "{out:?}");
}

#[test]
fn console_sends_each_line_and_leaves_on_exit() {
    let dir = config_dir();
    let _daemon = Running::start(dir.path());
    let mut console = Command::new(BIN)
        .arg("--config-dir")
        .arg(dir.path())
        .arg("-r")
        // History goes to $HOME: keep it in the test's directory.
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the console");
    console
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(b"core show uptime\n\nhelp\nexit\ncore show version\n")
        .expect("write to the console");
    let (tx, done) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(console.wait_with_output());
    });
    let out = done
        .recv_timeout(WAIT)
        .expect("console did not exit in time")
        .expect("console output");
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.starts_with("Connected to pjsipd"), "{text}");
    assert!(text.contains("System uptime:"), "{text}");
    assert!(
        text.contains("core stop gracefully"),
        "help missing: {text}"
    );
    // Nothing after `exit` is sent.
    assert_eq!(text.matches("built for").count(), 1, "{text}");
    let history =
        std::fs::read_to_string(dir.path().join(".pjsipd_history")).expect("history written");
    assert!(history.contains("core show uptime"), "{history}");
}

#[test]
fn console_without_a_daemon_says_so() {
    let dir = config_dir();
    let out = pjsipd(dir.path(), &["-r"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("Unable to connect to remote pjsipd"),
        "{out:?}"
    );
}

#[test]
fn version_flag() {
    let out = Command::new(BIN)
        .arg("--version")
        .output()
        .expect("run pjsipd");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("pjsipd {}", env!("CARGO_PKG_VERSION"))
    );
}

/// Collects sd_notify datagrams sent to a socket the test owns, as systemd would.
struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
    seen: Vec<String>,
}

impl NotifySocket {
    fn bind(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
        socket
            .set_read_timeout(Some(POLL))
            .expect("set a read timeout");
        Self {
            socket,
            path,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a message containing every one of `parts`.
    fn expect(&mut self, parts: &[&str], daemon: &Running) -> String {
        let start = Instant::now();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(pos) = self
                .seen
                .iter()
                .position(|m| parts.iter().all(|p| m.contains(p)))
            {
                return self.seen.remove(pos);
            }
            assert!(
                start.elapsed() < WAIT,
                "no notification with {parts:?}; got {:?}\n{}",
                self.seen,
                daemon.log()
            );
            if let Ok(n) = self.socket.recv(&mut buf) {
                self.seen
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    }
}

#[test]
fn systemd_notifications_and_watchdog() {
    let dir = config_dir();
    let mut notify = NotifySocket::bind(dir.path());
    let notify_path = notify.path.display().to_string();
    let mut daemon = Running::start_with_env(
        dir.path(),
        &[("NOTIFY_SOCKET", &notify_path), ("WATCHDOG_USEC", "200000")],
    );
    notify.expect(&["READY=1"], &daemon);
    // Half the 200 ms interval: several pings within the bound.
    notify.expect(&["WATCHDOG=1"], &daemon);
    notify.expect(&["WATCHDOG=1"], &daemon);

    daemon.signal(libc::SIGHUP);
    let reloading = notify.expect(&["RELOADING=1"], &daemon);
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.expect(&["READY=1"], &daemon);

    daemon.signal(libc::SIGTERM);
    notify.expect(&["STOPPING=1"], &daemon);
    assert_eq!(daemon.wait_exit().code(), Some(0), "{}", daemon.log());
}

#[test]
fn log_format_json() {
    let dir = config_dir();
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"data\"\n[log]\nformat = \"json\"\n",
    );
    let mut daemon = Running::start(dir.path());
    daemon.signal(libc::SIGTERM);
    assert_eq!(daemon.wait_exit().code(), Some(0));
    let log = daemon.log();
    let first = log.lines().next().unwrap_or_default();
    assert!(
        first.starts_with('{') && first.contains("\"level\":\"INFO\""),
        "{log}"
    );
    // Level info: the debug lines of the store observer are not there.
    assert!(!log.contains("created endpoint"), "{log}");
}

#[test]
fn reload_applies_a_new_log_level() {
    let dir = config_dir();
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"data\"\n[log]\nlevel = \"info\"\n",
    );
    let daemon = Running::start(dir.path());
    assert!(!daemon.log().contains("DEBUG"), "{}", daemon.log());
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\ndata_dir = \"data\"\n[log]\nlevel = \"debug\"\n",
    );
    append(dir.path(), "pjsip.conf", NEW_ENDPOINT);
    let reload = rx(dir.path(), "pjsip reload");
    assert!(reload.status.success(), "{reload:?}");
    assert!(
        stdout(&reload)
            .contains("Reloaded pjsip.conf: 2 created, 0 updated, 0 deleted (generation 2)"),
        "{}",
        stdout(&reload)
    );
    let log = daemon.log();
    assert!(log.contains("created endpoint '6003'"), "{log}");

    // A bad pjsipd.toml on reload: the level is kept, and the answer says so. (The client
    // still finds the socket: it only reads `control_socket`.)
    write(
        dir.path(),
        "pjsipd.toml",
        "[daemon]\ncontrol_socket = \"run/pjsipd.ctl\"\n[log]\nlevel = \"loud\"\n",
    );
    let reload = rx(dir.path(), "pjsip reload");
    assert!(reload.status.success(), "{reload:?}");
    let text = stdout(&reload);
    assert!(text.contains("pjsip.conf unchanged"), "{text}");
    assert!(text.contains("pjsipd.toml:4: error:"), "{text}");
    assert!(text.contains("loud"), "{text}");
    assert!(text.contains("Keeping the current log settings"), "{text}");
}

/// `systemd-analyze verify` on the shipped unit, with `ExecStart` pointed at the built binary
/// (verify checks that the executables exist). verify exits 0 even for directives it ignores,
/// so any message about the unit is a failure; a deliberately broken copy proves that verify
/// really reads the file.
#[test]
fn systemd_unit_verifies() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    assert!(
        matches!(&analyze, Ok(o) if o.status.success()),
        "systemd-analyze is required for this test (Debian package: systemd): {analyze:?}"
    );
    let unit_src = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/pjsipd.service");
    let unit = std::fs::read_to_string(&unit_src).expect("read the unit");
    for needed in [
        "Type=notify",
        "ExecStart=/usr/bin/pjsipd --config-dir /etc/pjsipd",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RuntimeDirectory=pjsipd",
        "StateDirectory=pjsipd",
        "WatchdogSec=30",
        "NotifyAccess=main",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/pjsipd",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    ] {
        assert!(
            unit.lines().any(|l| l.trim() == needed),
            "unit lacks {needed}"
        );
    }

    let verify = |text: &str| -> Output {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("pjsipd.service");
        std::fs::write(&path, text.replace("/usr/bin/pjsipd", BIN)).expect("write the unit");
        Command::new("systemd-analyze")
            .arg("verify")
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .expect("run systemd-analyze verify")
    };
    let complaints = |o: &Output| -> Vec<String> {
        stderr(o)
            .lines()
            .chain(stdout(o).lines())
            .filter(|l| l.contains("pjsipd.service"))
            .map(str::to_string)
            .collect()
    };

    let good = verify(&unit);
    assert!(good.status.success(), "{good:?}");
    assert!(complaints(&good).is_empty(), "{:?}", complaints(&good));

    let broken = verify(&unit.replace("Type=notify", "Type=notifyy"));
    assert!(
        !complaints(&broken).is_empty(),
        "verify did not notice a bad Type=: {broken:?}"
    );
}
