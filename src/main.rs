//! `pjsipd`: the daemon, its configuration check, and its remote console.
//!
//! Kept thin: arguments are parsed here, the work is in [`pjsipd::daemon`].

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use pjsipd::daemon;

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

fn main() -> ExitCode {
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
