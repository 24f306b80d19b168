//! Dial() arguments (app_dial) and the PJSIP dial string (chan_pjsip's `request()`).
//!
//! `Dial(Tech/resource[&Tech/resource...][,timeout[,options[,URL]]])`:
//! [`DialArgs::parse`]. The resource after `PJSIP/`: [`PjsipTarget::parse`], then
//! [`PjsipTarget::resolve`] against the configured endpoints.

use std::time::Duration;

use tracing::warn;

use super::apps::split_args;
use crate::pbx::cause::Cause;

/// Dial()'s parsed arguments.
#[derive(Clone, Debug, PartialEq)]
pub struct DialArgs {
    /// The targets, in order (all ring at once).
    pub targets: Vec<DialTarget>,
    /// How long to ring; `None`: no limit.
    pub timeout: Option<Duration>,
    /// The options.
    pub options: DialOptions,
    /// The fourth argument (a URL sent to the callee), if any.
    pub url: Option<String>,
}

/// One `Tech/resource` of the target list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialTarget {
    /// The technology as written (`PJSIP`); compare case-insensitively.
    pub tech: String,
    /// Everything after the first `/`.
    pub resource: String,
}

impl DialTarget {
    /// Whether the technology is PJSIP.
    pub fn is_pjsip(&self) -> bool {
        self.tech.eq_ignore_ascii_case("PJSIP")
    }
}

/// Dial()'s options; those not modelled are kept in `other`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DialOptions {
    /// `r`: indicate ringing to the caller at once.
    pub ring_indication: bool,
    /// `t`: the callee may transfer.
    pub callee_transfer: bool,
    /// `T`: the caller may transfer.
    pub caller_transfer: bool,
    /// `g`: go on in the dialplan when the callee hangs up.
    pub continue_on_hangup: bool,
    /// `b(context^exten^priority[(args)])`: pre-dial handler run on each callee channel.
    pub predial_callee: Option<String>,
    /// `U(x[^arg])`: subroutine run on the callee when it answers.
    pub answer_subroutine: Option<String>,
    /// Any other option letter, with its `(argument)` if given.
    pub other: Vec<(char, Option<String>)>,
}

/// Why Dial() could not use its arguments (Asterisk's texts).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// `Dial()` with nothing.
    #[error("Dial requires an argument (technology/resource)")]
    Empty,
    /// A target without `/`.
    #[error("Dial argument takes format (technology/[device:]number1)")]
    BadTarget,
}

impl DialArgs {
    /// Parses the substituted argument text of Dial().
    pub fn parse(text: &str) -> Result<DialArgs, DialError> {
        if text.trim().is_empty() {
            return Err(DialError::Empty);
        }
        let args = split_args(text, 4);
        let peers = args.first().map(String::as_str).unwrap_or_default();
        if peers.trim().is_empty() {
            return Err(DialError::Empty);
        }
        let targets = peers
            .split('&')
            .map(|t| {
                let (tech, resource) = t.trim().split_once('/').ok_or(DialError::BadTarget)?;
                Ok(DialTarget {
                    tech: tech.to_string(),
                    resource: resource.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = args
            .get(1)
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
            .and_then(|t| match t.parse::<f64>() {
                Ok(s) if s > 0.0 && s < 1e9 => Some(Duration::from_secs_f64(s)),
                _ => {
                    warn!("Invalid timeout specified: '{t}'. Setting timeout to infinite");
                    None
                }
            });
        let options = args.get(2).map(|o| parse_options(o)).unwrap_or_default();
        let url = args.get(3).filter(|u| !u.is_empty()).cloned();
        Ok(DialArgs {
            targets,
            timeout,
            options,
            url,
        })
    }
}

/// Asterisk's `ast_app_parse_options`: letters, each optionally followed by a
/// parenthesised argument (nested parentheses allowed).
fn parse_options(text: &str) -> DialOptions {
    let mut o = DialOptions::default();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let mut arg = None;
        if chars.peek() == Some(&'(') {
            chars.next();
            let mut depth = 1;
            let mut a = String::new();
            for ch in chars.by_ref() {
                match ch {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                a.push(ch);
            }
            arg = Some(a);
        }
        match c {
            'r' => o.ring_indication = true,
            't' => o.callee_transfer = true,
            'T' => o.caller_transfer = true,
            'g' => o.continue_on_hangup = true,
            'b' => o.predial_callee = arg,
            'U' => o.answer_subroutine = arg,
            c if c.is_whitespace() => {}
            c => o.other.push((c, arg)),
        }
    }
    o
}

/// The resource of a `PJSIP/...` target: `[user@]endpoint[/location]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PjsipTarget {
    /// The part before the first `/`, as written (may be `user@endpoint`).
    pub endpoint: String,
    /// What follows the first `/`: AOR names (comma-separated) or a SIP URI.
    pub location: Option<String>,
}

/// The endpoint a PJSIP dial string resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedTarget {
    /// The endpoint name.
    pub endpoint: String,
    /// The user to put in the Request-URI, for `user@endpoint`.
    pub request_user: Option<String>,
    /// The AOR list or URI after `/`, if any.
    pub location: Option<String>,
}

/// Why chan_pjsip could not create the channel (its texts, logged at ERROR).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PjsipDialError {
    /// `PJSIP/` with nothing after it.
    #[error("Unable to create PJSIP channel with empty destination")]
    EmptyDestination,
    /// No endpoint name (`PJSIP//aor`, `PJSIP/1234@`).
    #[error("Unable to create PJSIP channel with empty endpoint name{}", .request_user.as_ref().map(|u| format!(": {u}@<endpoint-name>")).unwrap_or_default())]
    EmptyEndpoint {
        /// The user part before `@`, when there was one.
        request_user: Option<String>,
    },
    /// No such endpoint.
    #[error("Unable to create PJSIP channel - endpoint '{0}' was not found")]
    NotFound(String),
}

impl PjsipDialError {
    /// The hangup cause chan_pjsip reports (Dial turns both into CHANUNAVAIL).
    pub fn cause(&self) -> Cause {
        match self {
            PjsipDialError::NotFound(_) => Cause::NO_ROUTE_DESTINATION,
            _ => Cause::CHANNEL_UNACCEPTABLE,
        }
    }
}

impl PjsipTarget {
    /// Splits the resource at the first `/`.
    pub fn parse(dest: &str) -> Result<PjsipTarget, PjsipDialError> {
        if dest.is_empty() {
            return Err(PjsipDialError::EmptyDestination);
        }
        let (endpoint, location) = match dest.split_once('/') {
            Some((e, l)) => (e, Some(l.to_string())),
            None => (dest, None),
        };
        Ok(PjsipTarget {
            endpoint: endpoint.to_string(),
            location,
        })
    }

    /// The AOR names of the location (`aorA,aorB`), when it is not a URI.
    pub fn aors(&self) -> Vec<&str> {
        match &self.location {
            Some(l) if !l.contains(':') => l
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The (endpoint, request user) pairs to try, in order: with multi-domain on (the
    /// default) the endpoint part as written first (an endpoint may be called
    /// `1234@mytrunk`), then split at the first `@`; with `disable_multi_domain=yes` only
    /// the split. An empty endpoint name is an error.
    pub fn candidates(
        &self,
        multi_domain: bool,
    ) -> Vec<Result<(String, Option<String>), PjsipDialError>> {
        let split = || match self.endpoint.split_once('@') {
            Some((user, "")) => Err(PjsipDialError::EmptyEndpoint {
                request_user: Some(user.to_string()),
            }),
            Some((user, ep)) => Ok((
                ep.to_string(),
                Some(user.to_string()).filter(|u| !u.is_empty()),
            )),
            None if self.endpoint.is_empty() => {
                Err(PjsipDialError::EmptyEndpoint { request_user: None })
            }
            None => Ok((self.endpoint.clone(), None)),
        };
        if !multi_domain {
            return vec![split()];
        }
        if self.endpoint.is_empty() {
            return vec![Err(PjsipDialError::EmptyEndpoint { request_user: None })];
        }
        let mut out = vec![Ok((self.endpoint.clone(), None))];
        if self.endpoint.contains('@') {
            out.push(split());
        }
        out
    }

    /// Picks the endpoint as chan_pjsip's `request()` does; `exists` says whether an
    /// endpoint of that name is configured.
    pub fn resolve(
        &self,
        multi_domain: bool,
        exists: impl Fn(&str) -> bool,
    ) -> Result<ResolvedTarget, PjsipDialError> {
        let mut last = None;
        for candidate in self.candidates(multi_domain) {
            let (endpoint, request_user) = candidate?;
            if exists(&endpoint) {
                return Ok(ResolvedTarget {
                    endpoint,
                    request_user,
                    location: self.location.clone(),
                });
            }
            last = Some(endpoint);
        }
        Err(PjsipDialError::NotFound(last.unwrap_or_default()))
    }
}
