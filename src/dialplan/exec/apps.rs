//! The applications: internal ones run here, the others become an [`Action`] for the
//! channel driver. Names are case-insensitive, as Asterisk's `pbx_findapp`.

use std::time::Duration;

use tracing::{debug, error, info, warn};

use super::vars::check_condition;
use super::{Action, ChannelData, DialArgs, EndReason, Execution, Step};
use crate::config::source::Location;
use crate::dialplan::Dialplan;
use crate::pbx::cause::{Cause, DialStatus};

/// The applications known, in their canonical spelling.
const APPS: &[&str] = &[
    "NoOp",
    "Verbose",
    "Log",
    "Set",
    "Goto",
    "GotoIf",
    "ExecIf",
    "Answer",
    "Ringing",
    "Progress",
    "Hangup",
    "Busy",
    "Congestion",
    "Dial",
    "Playback",
    "Echo",
    "Wait",
    "UserEvent",
];

/// Deepest ExecIf nesting (`ExecIf(1?ExecIf(...))`).
const MAX_EXECIF_DEPTH: usize = 8;

impl Execution {
    /// Substitutes and runs the application of the current priority.
    pub(super) fn execute(
        &mut self,
        dialplan: &Dialplan,
        data: &mut dyn ChannelData,
        app: &str,
        args: &str,
        location: &Location,
    ) -> Step {
        let args = self.substitute(dialplan, data, args);
        let Some(canonical) = APPS.iter().find(|a| a.eq_ignore_ascii_case(app.trim())) else {
            warn!(
                "No application '{app}' for extension ({}, {}, {}) at {location}",
                self.context, self.exten, self.priority
            );
            return Step::End(EndReason::NoApplication {
                app: app.to_string(),
                location: location.clone(),
            });
        };
        debug!(
            "Executing [{}@{}:{}] {canonical}(\"{}\", \"{args}\") in new stack",
            self.exten,
            self.context,
            self.priority,
            data.name()
        );
        self.app(dialplan, data, canonical, &args, 0)
    }

    fn app(
        &mut self,
        dialplan: &Dialplan,
        data: &mut dyn ChannelData,
        app: &str,
        args: &str,
        depth: usize,
    ) -> Step {
        match app {
            "NoOp" => Step::Next,
            "Verbose" => {
                verbose(args);
                Step::Next
            }
            "Log" => {
                log(args);
                Step::Next
            }
            "Set" => {
                self.set(data, args);
                Step::Next
            }
            "Goto" => self.goto(dialplan, args, "Goto"),
            "GotoIf" => self.goto_if(dialplan, args),
            "ExecIf" => self.exec_if(dialplan, data, args, depth),
            "Answer" => Step::Act(Action::Answer),
            "Ringing" => Step::Act(Action::Ringing),
            "Progress" => Step::Act(Action::Progress),
            "Echo" => Step::Act(Action::Echo),
            "Hangup" => Step::Act(Action::Hangup {
                cause: hangup_cause(args),
            }),
            "Busy" => Step::Act(Action::Busy {
                timeout: indication_timeout(args),
            }),
            "Congestion" => Step::Act(Action::Congestion {
                timeout: indication_timeout(args),
            }),
            "Wait" => match seconds(args) {
                Some(d) => Step::Act(Action::Wait(d)),
                None => Step::Next,
            },
            "Playback" => playback(args),
            "UserEvent" => user_event(args),
            "Dial" => self.dial(args),
            _ => Step::Next,
        }
    }

    /// `Set(name=value)`, `Set(FUNC(args)=value)`.
    fn set(&mut self, data: &mut dyn ChannelData, args: &str) {
        if args.is_empty() {
            warn!("Set requires one variable name/value pair.");
            return;
        }
        let Some((name, value)) = args.split_once('=') else {
            warn!("Set requires an '=' to be a valid assignment.");
            return;
        };
        if name.contains(' ') {
            warn!(
                "Please avoid unnecessary spaces on variables as it may lead to unexpected \
                 results ('{name}' set to '{value}')."
            );
        }
        if name.ends_with(')') {
            self.write_function(data, name, value);
        } else {
            self.set_var(name, value);
        }
    }

    /// `Goto([[context,]exten,]priority)`: Asterisk's `ast_parseable_goto`. The priority may
    /// be `+N`/`-N` (relative) or a label of the target extension.
    pub(super) fn goto(&mut self, dialplan: &Dialplan, target: &str, app: &str) -> Step {
        let fail = |message: String| {
            warn!("{message}");
            Step::End(EndReason::AppFailed {
                app: app.to_string(),
                message,
            })
        };
        if target.trim().is_empty() {
            return fail("Goto requires an argument ([[context,]extension,]priority)".into());
        }
        let parts: Vec<&str> = target.splitn(3, ',').collect();
        let (context, exten, pri) = match parts.as_slice() {
            [p] => (None, None, *p),
            [e, p] => (None, Some(*e), *p),
            [c, e, p] => (Some(*c), Some(*e), *p),
            _ => return fail("Goto requires an argument ([[context,]extension,]priority)".into()),
        };
        let context = context.map(str::trim).filter(|c| !c.is_empty());
        let exten = exten
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.eq_ignore_ascii_case("BYEXTENSION"));
        let new_context = context.unwrap_or(&self.context).to_string();
        let new_exten = exten.unwrap_or(&self.exten).to_string();
        let pri = pri.trim();
        let (mode, digits) = match pri.as_bytes().first() {
            Some(b'+') => (1i64, &pri[1..]),
            Some(b'-') => (-1, &pri[1..]),
            _ => (0, pri),
        };
        let number = match digits.parse::<i64>() {
            Ok(n) if mode == 0 => n,
            Ok(n) => i64::from(self.priority) + mode * n,
            Err(_) => {
                let label = dialplan
                    .lookup(&new_context, &new_exten, self.caller_id())
                    .and_then(|f| f.extension.label(pri))
                    .map(|p| p.number);
                match label {
                    Some(n) => i64::from(n),
                    None => {
                        return fail(format!(
                            "Priority '{pri}' must be a number > 0, or valid label"
                        ));
                    }
                }
            }
        };
        let Ok(number) = u32::try_from(number) else {
            return fail(format!(
                "Priority '{pri}' must be a number > 0, or valid label"
            ));
        };
        if number == 0 {
            return fail(format!(
                "Priority '{pri}' must be a number > 0, or valid label"
            ));
        }
        info!("Goto ({new_context},{new_exten},{number})");
        self.context = new_context;
        self.exten = new_exten;
        self.priority = number;
        Step::Jumped
    }

    /// `GotoIf(condition?[iftrue][:iffalse])`.
    fn goto_if(&mut self, dialplan: &Dialplan, args: &str) -> Step {
        if args.is_empty() {
            warn!("Ignoring, since there is no variable to check");
            return Step::Next;
        }
        let (cond, branches) = args.split_once('?').unwrap_or((args, ""));
        let (yes, no) = branches.split_once(':').unwrap_or((branches, ""));
        let branch = if check_condition(cond.trim()) {
            yes
        } else {
            no
        };
        if branch.trim().is_empty() {
            debug!("Not taking any branch");
            return Step::Next;
        }
        self.goto(dialplan, branch, "GotoIf")
    }

    /// `ExecIf(condition?app(args)[:app(args)])`.
    fn exec_if(
        &mut self,
        dialplan: &Dialplan,
        data: &mut dyn ChannelData,
        args: &str,
        depth: usize,
    ) -> Step {
        let Some((cond, rest)) = args.split_once('?') else {
            warn!(
                "ExecIf requires an argument: ExecIf(<expr>?<appiftrue>(<args>)[:<appiffalse>(<args>)])"
            );
            return Step::Next;
        };
        let (yes, no) = split_top_level(rest, ':');
        let chosen = if check_condition(cond.trim()) {
            Some(yes)
        } else {
            no
        };
        let Some(chosen) = chosen.map(str::trim).filter(|c| !c.is_empty()) else {
            return Step::Next;
        };
        let (name, inner) = super::vars::split_call(chosen);
        let Some(app) = APPS.iter().find(|a| a.eq_ignore_ascii_case(name.trim())) else {
            let message = format!("Could not find application ({})", name.trim());
            warn!("{message}");
            return Step::End(EndReason::AppFailed {
                app: "ExecIf".into(),
                message,
            });
        };
        if depth >= MAX_EXECIF_DEPTH {
            warn!("ExecIf nested more than {MAX_EXECIF_DEPTH} levels; ignored");
            return Step::Next;
        }
        self.app(dialplan, data, app, inner, depth + 1)
    }

    fn dial(&mut self, args: &str) -> Step {
        match DialArgs::parse(args) {
            Ok(d) => Step::Act(Action::Dial(d)),
            Err(e) => {
                warn!("{e}");
                self.set_dial_status(DialStatus::InvalidArgs);
                Step::End(EndReason::AppFailed {
                    app: "Dial".into(),
                    message: e.to_string(),
                })
            }
        }
    }
}

/// Splits at the first `sep` outside parentheses and quotes.
fn split_top_level(text: &str, sep: char) -> (&str, Option<&str>) {
    let mut depth = 0i32;
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                return (&text[..i], Some(&text[i + c.len_utf8()..]));
            }
            _ => {}
        }
    }
    (text, None)
}

/// Asterisk's standard argument split (`AST_STANDARD_APP_ARGS`): commas outside quotes,
/// parentheses and brackets separate; quotes are removed; a backslash keeps the next
/// character; at most `max` arguments, the last one taking the rest.
pub(super) fn split_args(text: &str, max: usize) -> Vec<String> {
    let mut args = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => quoted = !quoted,
            '(' | '[' if !quoted => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' if !quoted => {
                depth = (depth - 1).max(0);
                cur.push(c);
            }
            ',' if !quoted && depth == 0 && args.len() + 1 < max => {
                args.push(std::mem::take(&mut cur));
            }
            _ => cur.push(c),
        }
    }
    args.push(cur);
    args
}

/// `Verbose([level,]message)`.
fn verbose(args: &str) {
    let parts = split_args(args, 2);
    let (level, msg) = match parts.as_slice() {
        [msg] => ("0", msg.as_str()),
        [level, msg, ..] => (level.as_str(), msg.as_str()),
        [] => ("0", ""),
    };
    if level.trim().parse::<u32>().is_err() {
        warn!("'{level}' is not a verboser number");
    }
    info!("{msg}");
}

/// `Log(level,message)`.
fn log(args: &str) {
    let parts = split_args(args, 2);
    let (level, msg) = match parts.as_slice() {
        [level, msg, ..] => (level.trim().to_ascii_uppercase(), msg.as_str()),
        _ => {
            warn!("Log requires a level and a message");
            return;
        }
    };
    match level.as_str() {
        "ERROR" => error!("{msg}"),
        "WARNING" => warn!("{msg}"),
        "DEBUG" => debug!("{msg}"),
        _ => info!("{msg}"),
    }
}

/// `Hangup([cause])`: a number or a cause name.
fn hangup_cause(args: &str) -> Option<Cause> {
    let a = args.trim();
    if a.is_empty() {
        return None;
    }
    let cause =
        Cause::from_symbol(a).or_else(|| a.parse::<u16>().ok().filter(|&n| n > 0).map(Cause));
    if cause.is_none() {
        warn!("Invalid cause given to Hangup(): \"{a}\"");
    }
    cause
}

/// Seconds, possibly fractional, not negative.
fn seconds(text: &str) -> Option<Duration> {
    let s: f64 = text.trim().parse().ok()?;
    (0.0..1e9).contains(&s).then(|| Duration::from_secs_f64(s))
}

/// Busy/Congestion's timeout: none (until hangup) when missing or invalid.
fn indication_timeout(args: &str) -> Option<Duration> {
    let a = args.trim();
    if a.is_empty() {
        return None;
    }
    seconds(a)
}

/// `Playback(file[&file...][,options])`.
fn playback(args: &str) -> Step {
    let parts = split_args(args, 2);
    let files: Vec<String> = parts
        .first()
        .map(|f| {
            f.split('&')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if files.is_empty() {
        warn!("Playback requires an argument (filename)");
        return Step::Next;
    }
    Step::Act(Action::Playback {
        files,
        options: parts.get(1).cloned().unwrap_or_default(),
    })
}

/// `UserEvent(name[,Key: value[,...]])`.
fn user_event(args: &str) -> Step {
    let parts = split_args(args, usize::MAX);
    let Some((name, body)) = parts.split_first().filter(|(n, _)| !n.trim().is_empty()) else {
        warn!("UserEvent requires an argument (eventname,optional event body)");
        return Step::Next;
    };
    let fields = body
        .iter()
        .filter(|f| !f.trim().is_empty())
        .map(|f| match f.split_once(':') {
            Some((k, v)) => (k.trim().to_string(), v.trim().to_string()),
            None => (f.trim().to_string(), String::new()),
        })
        .collect();
    Step::Act(Action::UserEvent {
        name: name.trim().to_string(),
        fields,
    })
}
