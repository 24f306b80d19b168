//! `pjsipd`: the daemon, its configuration check, and its remote console.
//!
//! Kept thin: arguments are parsed here, the work is in [`pjsipd::daemon`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pjsipd::daemon;

/// mimalloc: configuration loads and SIP traffic allocate many small, short-lived objects;
/// measured on the 10,000-endpoint benchmark it halves load and reload times against glibc.
/// Version 2 (the crate's `v2` feature): messages are parsed on the UDP thread and freed on
/// the queue threads, and 3.x's cross-thread frees cost about 8 % more CPU per call
/// (three alternated runs each of `calls_vs_kamailio.sh 3500`).
#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A SIP server daemon configured with Asterisk's pjsip.conf.
#[derive(Debug, Parser)]
#[command(name = "pjsipd", version, about)]
struct Args {
    /// Configuration directory (pjsip.conf, extensions.conf, pjsipd.toml).
    #[arg(long, value_name = "DIR", default_value = "/etc/pjsipd")]
    config_dir: PathBuf,

    /// Check the configuration, print every problem, and exit: 0 when it has no errors.
    #[arg(long, conflicts_with_all = ["remote", "execute"])]
    check: bool,

    /// Connect to the running daemon's console.
    #[arg(short = 'r', long)]
    remote: bool,

    /// Run one command on the running daemon and exit: 0 when it succeeded (`-rx "cmd"`).
    #[arg(short = 'x', long, value_name = "COMMAND")]
    execute: Option<String>,
}

/// mimalloc's `purge_delay` option (mimalloc.h, mi_option_e).
#[cfg(not(feature = "system-alloc"))]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Milliseconds freed memory stays mapped before it goes back to the system. Not 0: an
/// immediate purge is an madvise per freed page, and under load (15,000 REGISTERs/s) the
/// TLB shootdowns it triggers cost a tenth of the CPU.
#[cfg(not(feature = "system-alloc"))]
const PURGE_DELAY_MS: std::ffi::c_long = 250;

fn main() -> ExitCode {
    // Return freed pages soon: a daemon should hold what it uses, but not give back and
    // fault in again the pages of transactions that end and start every second.
    // MIMALLOC_PURGE_DELAY overrides it. (Arena commit is decided before main runs; the
    // systemd unit sets MIMALLOC_ARENA_EAGER_COMMIT=0 for that.)
    #[cfg(not(feature = "system-alloc"))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: mi_option_set only stores an integer option; valid at any time.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
    let args = Args::parse();
    match dispatch(args) {
        Ok(code) => code,
        Err(e) => {
            // The library's messages already carry their causes; print only the top one.
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: Args) -> anyhow::Result<ExitCode> {
    if args.check {
        let report = daemon::check(&args.config_dir);
        let mut out = std::io::stdout().lock();
        for line in &report.lines {
            writeln!(out, "{line}")?;
        }
        return Ok(exit_code(report.ok));
    }
    if let Some(command) = &args.execute {
        let answer = daemon::remote_execute(&args.config_dir, command)?;
        let mut out = std::io::stdout().lock();
        out.write_all(answer.text.as_bytes())?;
        if !answer.text.is_empty() && !answer.text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        return Ok(exit_code(answer.ok));
    }
    if args.remote {
        daemon::remote_console(&args.config_dir)?;
        return Ok(ExitCode::SUCCESS);
    }
    daemon::run(&args.config_dir)?;
    Ok(ExitCode::SUCCESS)
}

fn exit_code(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
