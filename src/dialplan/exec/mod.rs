//! Running the dialplan: variables, functions, expressions and applications (sans-IO), as
//! Asterisk's `pbx.c` and its built-in applications.
//!
//! Public API:
//! - [`Execution`]: one channel's walk through the dialplan.
//!   [`Execution::start`] places it at `exten@context` (falling back to `s`, then to the
//!   `default` context, as Asterisk); [`Execution::run`] executes internal applications
//!   (NoOp, Verbose, Log, Set, Goto, GotoIf, ExecIf) until one needs the channel driver and
//!   returns that [`Action`]. The driver performs it, records results
//!   ([`Execution::set_var`], e.g. DIALSTATUS with [`Execution::set_dial_status`];
//!   [`Execution::set_hangup_cause`]) and calls `run` again. [`Action::Hangup`],
//!   [`Action::Busy`] and [`Action::Congestion`] end the walk (the driver hangs up after
//!   them); so does [`Action::End`]. After `Dial`, when a callee answered and the bridge
//!   ended, Asterisk hangs the caller up unless the `g` option was given
//!   ([`DialOptions::continue_on_hangup`]): the driver decides before calling `run`.
//!   Once the channel is hung up, [`Execution::start_hangup_extension`] moves the walk
//!   to the context's `h` extension.
//! - [`ChannelData`]: what the interpreter asks of the channel driver: its name, unique id
//!   and the dialplan functions it implements (CHANNEL, PJSIP_HEADER,
//!   PJSIP_DIAL_CONTACTS, ...).
//! - [`Execution::substitute`]: `${VAR}`, `${VAR:offset:length}`, `${FUNC(args)}` and
//!   `$[expression]` (see [`vars`] and [`expr`]).
//! - [`DialArgs::parse`] and [`PjsipTarget::parse`]: Dial() arguments and the PJSIP dial
//!   string (see [`dial`]).
//! - [`show::dialplan_show`]: the `dialplan show [context]` text.
//!
//! Each step is logged at debug level as Asterisk's verbose 3 line: `Executing
//! [600@internal:1] NoOp("PJSIP/6001-00000001", "Call to 600") in new stack`. One `run`
//! call executes at most [`MAX_STEPS`] internal applications, so a `Goto` loop ends the
//! call with an error instead of spinning.

mod apps;
pub mod dial;
pub mod expr;
pub mod show;
pub mod vars;

#[cfg(test)]
mod tests;

use std::time::Duration;

use tracing::{error, info, warn};

use super::{CallerId, Dialplan};
use crate::config::source::Location;
use crate::pbx::cause::{Cause, DialStatus};

pub use dial::{
    DialArgs, DialError, DialOptions, DialTarget, PjsipDialError, PjsipTarget, ResolvedTarget,
};

/// Most internal applications one [`Execution::run`] call executes.
pub const MAX_STEPS: usize = 10_000;
/// Most channel variables one execution keeps.
pub const MAX_VARIABLES: usize = 1024;
/// How long Busy/Congestion are indicated after an auto fallthrough (Asterisk's "10").
pub const FALLTHROUGH_INDICATION: Duration = Duration::from_secs(10);

/// What the interpreter asks of the channel driver.
pub trait ChannelData {
    /// The channel name (`PJSIP/6001-00000001`): `${CHANNEL}` and the log lines.
    fn name(&self) -> &str;
    /// The channel's unique id: `${UNIQUEID}`.
    fn unique_id(&self) -> &str;
    /// Reads dialplan function `name` (upper case) with `args`; `None` when the driver does
    /// not implement it, `Some(Err)` with a message to log when the call fails.
    fn read_function(&mut self, name: &str, args: &str) -> Option<Result<String, String>>;
    /// Writes dialplan function `name` (upper case): `Set(NAME(args)=value)`; `None` when
    /// the driver does not implement it.
    fn write_function(&mut self, name: &str, args: &str, value: &str)
    -> Option<Result<(), String>>;
}

/// The caller's identity (`CALLERID(num)`, `CALLERID(name)`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallerIdentity {
    /// The number (empty when unknown).
    pub number: String,
    /// The display name (empty when unknown).
    pub name: String,
    /// `CALLERID(pres)`: whether it may be shown to the called party.
    pub presentation: crate::config::types::CallerIdPrivacy,
}

/// What the channel driver must do next.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `Answer()`: answer the call (200 OK).
    Answer,
    /// `Ringing()`: indicate ringing (180).
    Ringing,
    /// `Progress()`: early media (183).
    Progress,
    /// `Hangup([cause])`; then the walk is over.
    Hangup {
        /// The cause given, if any.
        cause: Option<Cause>,
    },
    /// `Busy([timeout])`: indicate busy (486 before answer), wait, hang up.
    Busy {
        /// How long to indicate; `None`: until the caller hangs up.
        timeout: Option<Duration>,
    },
    /// `Congestion([timeout])`: indicate congestion (503 before answer), wait, hang up.
    Congestion {
        /// How long to indicate; `None`: until the caller hangs up.
        timeout: Option<Duration>,
    },
    /// `Dial(...)`: call the targets; set DIALSTATUS afterwards.
    Dial(DialArgs),
    /// `Playback(file[&file...][,options])`.
    Playback {
        /// The sound files, in order.
        files: Vec<String>,
        /// The options as written (`skip`, `noanswer`, ...).
        options: String,
    },
    /// `Echo()`: send back what is received until the caller hangs up.
    Echo,
    /// `Wait(seconds)`.
    Wait(Duration),
    /// `UserEvent(name[,Key: value...])`: an AMI UserEvent.
    UserEvent {
        /// The event name.
        name: String,
        /// The body fields, in order.
        fields: Vec<(String, String)>,
    },
    /// The walk is over: hang up (if not already done).
    End {
        /// Why.
        reason: EndReason,
    },
}

/// Why an execution ended.
#[derive(Clone, Debug, PartialEq)]
pub enum EndReason {
    /// The extension ran out of priorities (Asterisk's auto fallthrough); `status` is
    /// DIALSTATUS, or `UNKNOWN`.
    Fallthrough {
        /// DIALSTATUS at that point.
        status: String,
    },
    /// The extension does not exist and the context has no `i` extension.
    InvalidExtension {
        /// The context.
        context: String,
        /// The extension.
        exten: String,
    },
    /// The application is not known; Asterisk hangs up.
    NoApplication {
        /// The name as written.
        app: String,
        /// Where the priority is.
        location: Location,
    },
    /// An application failed (bad Goto target, Dial without usable arguments...).
    AppFailed {
        /// The application.
        app: String,
        /// What went wrong (also logged).
        message: String,
    },
    /// [`MAX_STEPS`] internal applications ran without anything for the driver to do.
    StepLimit,
    /// A `Hangup`, `Busy` or `Congestion` action was returned.
    HungUp,
    /// The `h` extension ran out of priorities.
    HangupExtensionDone,
}

/// Inheritance of a channel variable to the channels Dial creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inherit {
    /// `VAR`: not inherited.
    No,
    /// `_VAR`: inherited once (the child gets `VAR`).
    Once,
    /// `__VAR`: inherited forever (the child gets `__VAR`).
    Always,
}

#[derive(Clone, Debug)]
struct Var {
    name: String,
    value: String,
    inherit: Inherit,
}

/// One channel's walk through the dialplan.
#[derive(Clone, Debug)]
pub struct Execution {
    context: String,
    exten: String,
    priority: u32,
    caller: CallerIdentity,
    vars: Vec<Var>,
    hangup_cause: Option<Cause>,
    finished: Option<EndReason>,
    /// Running the `h` extension: the channel is gone, a missing priority just ends.
    in_hangup: bool,
}

/// What one application did.
enum Step {
    /// Go on with the next priority.
    Next,
    /// Go on where a Goto pointed.
    Jumped,
    /// Return this to the driver (after moving to the next priority).
    Act(Action),
    /// Stop.
    End(EndReason),
}

impl Execution {
    /// Starts at priority 1 of `exten` in `context`. As Asterisk's `__ast_pbx_run`: when
    /// that does not exist, `s` in the same context, and when that does not exist either,
    /// the context `default`.
    pub fn start(dialplan: &Dialplan, context: &str, exten: &str, caller: CallerIdentity) -> Self {
        let mut e = Execution {
            context: context.to_string(),
            exten: exten.to_string(),
            priority: 1,
            caller,
            vars: Vec::new(),
            hangup_cause: None,
            finished: None,
            in_hangup: false,
        };
        if !e.exists(dialplan, &e.context, &e.exten, 1) {
            info!("Starting at {context},{exten},1 failed so falling back to exten 's'");
            e.exten = "s".to_string();
            if !e.exists(dialplan, &e.context, "s", 1) {
                info!(
                    "Starting at {context},s,1 still failed so falling back to context 'default'"
                );
                e.context = "default".to_string();
            }
        }
        e
    }

    /// The channel hung up: moves the walk to priority 1 of the `h` extension of the
    /// current context, as Asterisk's `ast_pbx_h_exten_run` does for a channel that ran
    /// the dialplan (variables, DIALSTATUS and HANGUPCAUSE kept; no fallback to `s`, `i`
    /// or another context). False when there is no `h` there, or it already ran. The
    /// driver then calls [`Execution::run`] until [`Action::End`], ending the walk at the
    /// first action that needs the channel (it is gone: Asterisk's applications fail on
    /// a hung-up channel), and performing only [`Action::UserEvent`].
    pub fn start_hangup_extension(&mut self, dialplan: &Dialplan) -> bool {
        if self.in_hangup || !self.exists(dialplan, &self.context, "h", 1) {
            return false;
        }
        self.in_hangup = true;
        self.exten = "h".to_string();
        self.priority = 1;
        self.finished = None;
        true
    }

    /// The current context.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The current extension.
    pub fn exten(&self) -> &str {
        &self.exten
    }

    /// The priority that runs next.
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// The caller identity (changed by `Set(CALLERID(...)=...)`).
    pub fn caller(&self) -> &CallerIdentity {
        &self.caller
    }

    /// The hangup cause the driver recorded, if any.
    pub fn hangup_cause(&self) -> Option<Cause> {
        self.hangup_cause
    }

    /// Records the channel's hangup cause (`${HANGUPCAUSE}`).
    pub fn set_hangup_cause(&mut self, cause: Cause) {
        self.hangup_cause = Some(cause);
    }

    /// Sets DIALSTATUS, as Dial() does when it returns.
    pub fn set_dial_status(&mut self, status: DialStatus) {
        self.set_var("DIALSTATUS", status.as_str());
    }

    /// Whether the walk is over.
    pub fn is_finished(&self) -> bool {
        self.finished.is_some()
    }

    /// A channel variable (name without `_`/`__` prefix; case-sensitive).
    pub fn var(&self, name: &str) -> Option<&str> {
        let bare = strip_inherit(name).0;
        self.vars
            .iter()
            .find(|v| v.name == bare)
            .map(|v| v.value.as_str())
    }

    /// Sets a channel variable as `Set(name=value)` does: `_NAME` and `__NAME` mark it
    /// inherited by the channels Dial creates (see [`Execution::inheritable_vars`]).
    pub fn set_var(&mut self, name: &str, value: &str) {
        let (bare, inherit) = strip_inherit(name);
        if bare.is_empty() {
            return;
        }
        self.vars.retain(|v| v.name != bare);
        if self.vars.len() >= MAX_VARIABLES {
            warn!("Too many channel variables ({MAX_VARIABLES}); '{bare}' not set");
            return;
        }
        self.vars.push(Var {
            name: bare.to_string(),
            value: value.to_string(),
            inherit,
        });
    }

    /// The variables a channel created by Dial starts with, as the names it sets them
    /// under: `_VAR` is passed on as `VAR`, `__VAR` as `__VAR` (Asterisk's
    /// `ast_channel_inherit_variables`).
    pub fn inheritable_vars(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .filter_map(|v| match v.inherit {
                Inherit::No => None,
                Inherit::Once => Some((v.name.clone(), v.value.clone())),
                Inherit::Always => Some((format!("__{}", v.name), v.value.clone())),
            })
            .collect()
    }

    /// Runs internal applications until one needs the channel driver; see the module
    /// documentation.
    pub fn run(&mut self, dialplan: &Dialplan, data: &mut dyn ChannelData) -> Action {
        if let Some(reason) = &self.finished {
            return Action::End {
                reason: reason.clone(),
            };
        }
        for _ in 0..MAX_STEPS {
            let step = match self.current(dialplan) {
                Some((app, args, location)) => self.execute(dialplan, data, &app, &args, &location),
                None => match self.missing_priority(dialplan, data) {
                    Some(step) => step,
                    None => continue,
                },
            };
            match step {
                Step::Next => self.priority = self.priority.saturating_add(1),
                Step::Jumped => {}
                Step::Act(action) => {
                    self.priority = self.priority.saturating_add(1);
                    let terminal = matches!(
                        action,
                        Action::Hangup { .. } | Action::Busy { .. } | Action::Congestion { .. }
                    );
                    if terminal && self.finished.is_none() {
                        self.finished = Some(EndReason::HungUp);
                    }
                    return action;
                }
                Step::End(reason) => return self.end(reason),
            }
        }
        error!(
            "Channel '{}' executed {MAX_STEPS} dialplan steps without waiting for anything \
             (a Goto loop?) at {},{},{}; hanging up",
            data.name(),
            self.context,
            self.exten,
            self.priority
        );
        self.end(EndReason::StepLimit)
    }

    fn end(&mut self, reason: EndReason) -> Action {
        self.finished = Some(reason.clone());
        Action::End { reason }
    }

    fn caller_id(&self) -> CallerId<'_> {
        CallerId::Number(&self.caller.number)
    }

    fn exists(&self, dialplan: &Dialplan, context: &str, exten: &str, priority: u32) -> bool {
        dialplan
            .lookup_priority(context, exten, priority, self.caller_id())
            .is_some()
    }

    /// The application, arguments and location of the current priority.
    fn current(&self, dialplan: &Dialplan) -> Option<(String, String, Location)> {
        let found = dialplan.lookup_priority(
            &self.context,
            &self.exten,
            self.priority,
            self.caller_id(),
        )?;
        let p = found.extension.priority(self.priority)?;
        Some((p.app.clone(), p.args.clone(), p.location.clone()))
    }

    /// The current priority does not exist: go to `i`, or end (Asterisk's `__ast_pbx_run`
    /// after its priority loop). `None` means "continue at the new place".
    fn missing_priority(&mut self, dialplan: &Dialplan, data: &dyn ChannelData) -> Option<Step> {
        if self.in_hangup {
            return Some(Step::End(EndReason::HangupExtensionDone));
        }
        let name = data.name();
        if !self.exists(dialplan, &self.context, &self.exten, 1) {
            if self.exten != "i" && self.exists(dialplan, &self.context, "i", 1) {
                info!(
                    "Channel '{name}' sent to invalid extension '{}' in context '{}', going to 'i'",
                    self.exten, self.context
                );
                let exten = std::mem::replace(&mut self.exten, "i".to_string());
                self.set_var("INVALID_EXTEN", &exten);
                self.priority = 1;
                return None;
            }
            warn!(
                "Channel '{name}' sent to invalid extension but no invalid handler: \
                 context,exten,priority={},{},{}",
                self.context, self.exten, self.priority
            );
            return Some(Step::End(EndReason::InvalidExtension {
                context: self.context.clone(),
                exten: self.exten.clone(),
            }));
        }
        let status = self.var("DIALSTATUS").unwrap_or("UNKNOWN").to_string();
        info!("Auto fallthrough, channel '{name}' status is '{status}'");
        let timeout = Some(FALLTHROUGH_INDICATION);
        let action = if status.eq_ignore_ascii_case("BUSY") {
            Some(Action::Busy { timeout })
        } else if status.eq_ignore_ascii_case("CONGESTION")
            || status.eq_ignore_ascii_case("CHANUNAVAIL")
        {
            Some(Action::Congestion { timeout })
        } else {
            None
        };
        let reason = EndReason::Fallthrough { status };
        Some(match action {
            Some(a) => {
                self.finished = Some(reason);
                Step::Act(a)
            }
            None => Step::End(reason),
        })
    }
}

/// Splits `__NAME` / `_NAME` into the name and its inheritance.
fn strip_inherit(name: &str) -> (&str, Inherit) {
    if let Some(n) = name.strip_prefix("__") {
        (n, Inherit::Always)
    } else if let Some(n) = name.strip_prefix('_') {
        (n, Inherit::Once)
    } else {
        (name, Inherit::No)
    }
}
