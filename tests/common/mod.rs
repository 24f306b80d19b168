//! Helpers shared by the integration tests that start the `pjsipd` binary: files in a
//! configuration directory, `pjsipd -rx`, bounded waits, and [`Running`], which kills a
//! daemon still running when a test ends (and prints its log if the test failed).

#![allow(dead_code)] // each test file uses its own subset

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_pjsipd");
/// Upper bound for anything the daemon should do "at once".
pub const WAIT: Duration = Duration::from_secs(10);
pub const POLL: Duration = Duration::from_millis(50);

pub fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).expect("write a test file");
}

pub fn append(dir: &Path, name: &str, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(name))
        .expect("open a test file");
    f.write_all(text.as_bytes()).expect("append to a test file");
}

pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join("run/pjsipd.ctl")
}

/// Runs `pjsipd --config-dir DIR ARGS...` to completion.
pub fn pjsipd(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--config-dir")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pjsipd")
}

/// `pjsipd -rx COMMAND`.
pub fn rx(dir: &Path, command: &str) -> Output {
    pjsipd(dir, &["-rx", command])
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Polls `done` every [`POLL`] until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if start.elapsed() > limit {
            return false;
        }
        sleep(POLL);
    }
}

/// A daemon started by a test; killed on drop if it is still running.
pub struct Running {
    pub child: Child,
    pub log: PathBuf,
    pub dir: PathBuf,
}

impl Running {
    /// Starts the daemon on `dir` and waits (bounded) until its control socket answers.
    pub fn start(dir: &Path) -> Self {
        Self::start_with_env(dir, &[])
    }

    pub fn start_with_env(dir: &Path, env: &[(&str, &str)]) -> Self {
        let log = dir.join("daemon.log");
        let log_file = std::fs::File::create(&log).expect("create the daemon log");
        let child = Command::new(BIN)
            .arg("--config-dir")
            .arg(dir)
            .envs(env.iter().copied())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // To a file, not a pipe: a pipe nobody reads would block the daemon once full.
            .stderr(log_file)
            .spawn()
            .expect("spawn pjsipd");
        let mut running = Self {
            child,
            log,
            dir: dir.to_path_buf(),
        };
        let up = wait_until(WAIT, || {
            if let Ok(Some(status)) = running.child.try_wait() {
                panic!(
                    "pjsipd exited during start-up ({status}):\n{}",
                    running.log()
                );
            }
            socket_path(dir).exists() && rx(dir, "core show version").status.success()
        });
        assert!(
            up,
            "pjsipd did not answer within {WAIT:?}:\n{}",
            running.log()
        );
        running
    }

    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.child.id()).expect("pid fits pid_t")
    }

    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) with a pid this test spawned and has not reaped yet.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}) failed", self.pid());
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_until(WAIT, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(
            exited,
            "pjsipd did not exit within {WAIT:?}:\n{}",
            self.log()
        );
        status.unwrap_or_else(|| unreachable!("checked above"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("<no log: {e}>"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
            if std::thread::panicking() {
                eprintln!(
                    "pjsipd log ({}):\n{}",
                    self.dir.display(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
        }
    }
}
