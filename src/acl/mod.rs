//! Host-based access control (sans-IO): Asterisk's "ha" rules (`permit=` / `deny=`), named
//! ACLs from `acl.conf`, and the checks of `type=acl` objects ([`check_request`]) and of
//! endpoints ([`check_endpoint`]).
//!
//! Semantics, following Asterisk's `main/acl.c` and `res/res_pjsip_acl.c`:
//! - A rule list ([`HaRules`]) is applied in the order written; the last rule matching the
//!   address decides; when none matches, the address is permitted. So `deny=0.0.0.0/0`
//!   then `permit=10.0.0.0/8` lets in 10.0.0.0/8 only.
//! - An IPv4 rule never matches an IPv6 address and the other way round; an IPv4-mapped
//!   IPv6 address (`::ffff:10.0.0.1`) is checked as the IPv4 address it carries.
//! - A `!` before an entry flips its action: `deny=!10.0.0.0/8` is `permit=10.0.0.0/8`
//!   (Asterisk's `ast_append_ha`; it does not mean "everything outside 10.0.0.0/8").
//! - An object's ACL is a list of rule lists: first its own `permit`/`deny` rules (Asterisk's
//!   "BASELINE" ACL), then each named ACL of its `acl=` lines, in order. Each is evaluated
//!   on its own and every one must permit the address (Asterisk's `ast_apply_acl`). The
//!   rules of a named ACL are therefore not spliced in at the position of the `acl=` line:
//!   where the `acl=` line is written does not change the verdict.
//! - A named ACL that `acl.conf` does not define refuses every address (Asterisk marks it
//!   undefined: "will automatically fail if applied"). A named ACL with no rules permits
//!   every address.
//! - The Contact lists (`contact_permit`, `contact_deny`, `contact_acl`) are applied the
//!   same way to the host of every Contact header.
//! - `type=acl` objects apply to every request before endpoint logic: one refusing the
//!   source or a Contact host is enough (Asterisk answers 403 statelessly, except to ACK,
//!   and logs [`Denial::request_warning`]). Objects are checked in id order, each the
//!   source first, then its Contact rules.
//! - An endpoint's lists apply once it is identified: a refusal makes the request be
//!   treated as unidentified, logged with [`Denial::endpoint_reason`].

mod named;
#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{IpAddr, SocketAddr};

pub use named::{ACL_CONF, LoadError, NamedAcls, NamedAclsLoad};

pub use crate::config::options::{Action, HaRule, HaRules};
use crate::config::options::{ListOf, Name};
use crate::config::types::{Endpoint, Kind, Object};
use crate::sorcery::Snapshot;

impl HaRules {
    /// What the rules do with `ip`: the action of the last rule matching it, or
    /// [`Action::Permit`] when none does.
    pub fn evaluate(&self, ip: IpAddr) -> Action {
        // An IPv4-mapped address is matched by IPv4 rules only; `IpNet::contains` never
        // matches across IP versions.
        let ip = ip.to_canonical();
        self.0
            .iter()
            .rev()
            .find(|rule| rule.net.contains(&ip))
            .map_or(Action::Permit, |rule| rule.action)
    }

    /// True when [`HaRules::evaluate`] permits `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.evaluate(ip) == Action::Permit
    }
}

/// Which address a refusing list was applied to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AclTarget {
    /// The source address of the request.
    Source,
    /// The host of a Contact header.
    Contact,
}

/// Which list of an ACL refused an address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DeniedBy {
    /// The object's own `permit`/`deny` (or `contact_permit`/`contact_deny`) rules:
    /// Asterisk's "(BASELINE)" ACL.
    Rules,
    /// A named ACL of `acl.conf` whose rules refuse the address.
    Named(String),
    /// A named ACL that `acl.conf` does not define: it refuses every address.
    Undefined(String),
}

/// Why a request did not pass an ACL.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Denial {
    /// The `type=acl` object that refused; `None` for an endpoint's own options.
    pub acl_object: Option<String>,
    /// Whether the source address or a Contact host was refused.
    pub target: AclTarget,
    /// The list that refused it.
    pub by: DeniedBy,
    /// The refused address (the source, or the Contact host).
    pub address: IpAddr,
}

impl Denial {
    /// The option holding the refusing list, as written in `pjsip.conf`.
    pub fn option(&self) -> &'static str {
        match (self.target, &self.by) {
            (AclTarget::Source, DeniedBy::Rules) => "permit/deny",
            (AclTarget::Source, _) => "acl",
            (AclTarget::Contact, DeniedBy::Rules) => "contact_permit/contact_deny",
            (AclTarget::Contact, _) => "contact_acl",
        }
    }

    /// The WARNING Asterisk logs when a `type=acl` object refuses a request:
    /// `Incoming SIP message from <addr> did not pass ACL test`, where `<addr>` is
    /// `source` (address and port) for a refused source, and the Contact host for a
    /// refused Contact.
    pub fn request_warning(&self, source: SocketAddr) -> String {
        match self.target {
            AclTarget::Source => {
                format!("Incoming SIP message from {source} did not pass ACL test")
            }
            AclTarget::Contact => format!(
                "Incoming SIP message from {} did not pass ACL test",
                self.address
            ),
        }
    }

    /// The reason in Asterisk's failed-request line when an endpoint's own lists refuse
    /// (`Request '<METHOD>' from '<uri>' failed for '<ip:port>' (callid: <id>) - <reason>`):
    /// `Not match Endpoint ACL` or `Not match Endpoint Contact ACL`.
    pub fn endpoint_reason(&self) -> &'static str {
        match self.target {
            AclTarget::Source => "Not match Endpoint ACL",
            AclTarget::Contact => "Not match Endpoint Contact ACL",
        }
    }
}

impl fmt::Display for Denial {
    /// Asterisk's detail line (`SIP ACL: Rejecting '<addr>' due to a failure to pass ACL
    /// '<name>'`), prefixed with the `type=acl` object when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(id) = &self.acl_object {
            write!(f, "acl '{id}': ")?;
        }
        let purpose = match self.target {
            AclTarget::Source => "SIP ACL",
            AclTarget::Contact => "SIP Contact ACL",
        };
        match &self.by {
            DeniedBy::Rules => write!(
                f,
                "{purpose}: Rejecting '{}' due to a failure to pass ACL '(BASELINE)'",
                self.address
            ),
            DeniedBy::Named(name) => write!(
                f,
                "{purpose}: Rejecting '{}' due to a failure to pass ACL '{name}'",
                self.address
            ),
            DeniedBy::Undefined(name) => write!(
                f,
                "{purpose}: Rejecting '{}' due to use of an invalid ACL '{name}' \
                 (not defined in acl.conf)",
                self.address
            ),
        }
    }
}

/// The outcome of an ACL check.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AclVerdict {
    /// Every list permitted every address checked.
    Allowed,
    /// A list refused an address.
    Denied(Denial),
}

impl AclVerdict {
    /// True for [`AclVerdict::Allowed`].
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed)
    }

    /// The denial, if any.
    pub fn denial(&self) -> Option<&Denial> {
        match self {
            Self::Allowed => None,
            Self::Denied(d) => Some(d),
        }
    }
}

/// One ACL as Asterisk's `ast_acl_list`: the object's own rules, then its named ACLs.
struct AclList<'a> {
    rules: &'a HaRules,
    names: &'a ListOf<Name>,
}

impl AclList<'_> {
    /// Every list must permit `ip`; the first that does not is returned.
    fn check(&self, named: &NamedAcls, ip: IpAddr) -> Result<(), DeniedBy> {
        if !self.rules.allows(ip) {
            return Err(DeniedBy::Rules);
        }
        for name in self.names.iter() {
            match named.get(name.as_str()) {
                None => return Err(DeniedBy::Undefined(name.as_str().to_string())),
                Some(rules) if !rules.allows(ip) => {
                    return Err(DeniedBy::Named(name.as_str().to_string()));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Applies a source list and a Contact list: the source first, then each Contact host.
fn check_pair(
    object: Option<&str>,
    source_list: &AclList<'_>,
    contact_list: &AclList<'_>,
    named: &NamedAcls,
    source: IpAddr,
    contact_hosts: &[IpAddr],
) -> AclVerdict {
    let denial = |target, by, address| {
        AclVerdict::Denied(Denial {
            acl_object: object.map(str::to_string),
            target,
            by,
            address,
        })
    };
    if let Err(by) = source_list.check(named, source) {
        return denial(AclTarget::Source, by, source);
    }
    for &host in contact_hosts {
        if let Err(by) = contact_list.check(named, host) {
            return denial(AclTarget::Contact, by, host);
        }
    }
    AclVerdict::Allowed
}

/// Checks a request against every `type=acl` object of `snapshot` (Asterisk's
/// `res_pjsip_acl`), before any endpoint logic. `contact_hosts` are the hosts of the
/// request's Contact headers that are IP addresses (see [`contact_ips`]): Asterisk also
/// resolves host names through DNS and checks every address found; this function does no
/// DNS, so a name is not checked at all. A denial means a stateless 403 (none to an ACK)
/// and the WARNING of [`Denial::request_warning`].
pub fn check_request(
    snapshot: &Snapshot,
    named: &NamedAcls,
    source: IpAddr,
    contact_hosts: &[IpAddr],
) -> AclVerdict {
    for stored in snapshot.all(Kind::Acl) {
        let Object::Acl(acl) = &stored.object else {
            continue;
        };
        let verdict = check_pair(
            Some(stored.id()),
            &AclList {
                rules: &acl.source_rules,
                names: &acl.acl,
            },
            &AclList {
                rules: &acl.contact_rules,
                names: &acl.contact_acl,
            },
            named,
            source,
            contact_hosts,
        );
        if !verdict.is_allowed() {
            return verdict;
        }
    }
    AclVerdict::Allowed
}

/// Checks a request from an identified endpoint against the endpoint's own `acl`,
/// `permit`, `deny` and (for `contact_hosts`, as in [`check_request`]: IP hosts only)
/// `contact_acl`, `contact_permit`, `contact_deny`. A denial means the request is treated
/// as unidentified, logged with [`Denial::endpoint_reason`].
pub fn check_endpoint(
    endpoint: &Endpoint,
    named: &NamedAcls,
    source: IpAddr,
    contact_hosts: &[IpAddr],
) -> AclVerdict {
    check_pair(
        None,
        &AclList {
            rules: &endpoint.source_rules,
            names: &endpoint.acl,
        },
        &AclList {
            rules: &endpoint.contact_rules,
            names: &endpoint.contact_acl,
        },
        named,
        source,
        contact_hosts,
    )
}

/// The Contact hosts that are IP addresses (`[v6]` brackets removed), as [`check_request`]
/// and [`check_endpoint`] take them. Host names are left out: Asterisk resolves them
/// through DNS and checks every address, pjsipd's checks are sans-IO and do not.
pub fn contact_ips<'a>(hosts: impl IntoIterator<Item = &'a str>) -> Vec<IpAddr> {
    hosts
        .into_iter()
        .filter_map(|h| {
            let h = h.trim();
            let bare = h
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .unwrap_or(h);
            bare.parse().ok()
        })
        .collect()
}
