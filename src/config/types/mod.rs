//! The typed configuration objects of `pjsip.conf`, one file per type, with Asterisk's
//! option names, value syntax and defaults.

mod acl;
mod aor;
mod auth;
mod contact;
mod domain_alias;
mod endpoint;
mod endpoint_values;
mod global;
mod identify;
mod registration;
mod system;
mod transport;

use std::fmt;
use std::str::FromStr;

pub use acl::Acl;
pub use aor::Aor;
pub use auth::{Auth, AuthType, DigestAlgorithm, PasswordDigest};
pub use contact::Contact;
pub use domain_alias::DomainAlias;
pub use endpoint::Endpoint;
pub use endpoint_values::{
    CallerIdPrivacy, CodecKeep, CodecOperation, CodecPrefer, CodecPrefs, CodecTranscode,
    DirectMediaMethod, DtlsFingerprint, DtlsSetup, DtlsVerify, DtmfMode, FollowRedirectMethod,
    GlareMitigation, IdentifyMethod, IncomingCallOfferPref, MediaEncryption, OutgoingCallOfferPref,
    RedirectMethod, Rel100, SecurityMechanism, SecurityMechanismType, SecurityNegotiation,
    StirShaken, T38ErrorCorrection, Timers,
};
pub use global::{Global, OverloadTrigger};
pub use identify::{Identify, MatchTarget};
pub use registration::Registration;
pub use system::System;
pub use transport::{TlsMethod, Transport, TransportProtocol};

use super::options::{Alias, Options};

/// The object types of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// `type=transport`.
    Transport,
    /// `type=endpoint`.
    Endpoint,
    /// `type=aor`.
    Aor,
    /// `type=auth`.
    Auth,
    /// `type=contact` (static contacts written in the config).
    Contact,
    /// `type=identify`.
    Identify,
    /// `type=registration` (outbound).
    Registration,
    /// `type=domain_alias`.
    DomainAlias,
    /// `type=acl`.
    Acl,
    /// `[global]` / `type=global` (one at most).
    Global,
    /// `[system]` / `type=system` (one at most).
    System,
}

impl Kind {
    /// Every kind, in the order objects are listed and applied.
    pub const ALL: [Self; 11] = [
        Self::Transport,
        Self::Global,
        Self::System,
        Self::Auth,
        Self::Aor,
        Self::Endpoint,
        Self::Identify,
        Self::Contact,
        Self::Registration,
        Self::DomainAlias,
        Self::Acl,
    ];

    /// The `type=` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Transport => "transport",
            Self::Endpoint => "endpoint",
            Self::Aor => "aor",
            Self::Auth => "auth",
            Self::Contact => "contact",
            Self::Identify => "identify",
            Self::Registration => "registration",
            Self::DomainAlias => "domain_alias",
            Self::Acl => "acl",
            Self::Global => "global",
            Self::System => "system",
        }
    }

    /// Types of which at most one object exists (`[global]`, `[system]`).
    pub fn is_single(self) -> bool {
        matches!(self, Self::Global | Self::System)
    }

    /// Every option name of this type (for "did you mean").
    pub fn option_names(self) -> Vec<&'static str> {
        fn names<T: ConfigObject>() -> Vec<&'static str> {
            T::OPTIONS
                .iter()
                .map(|o| o.name)
                .chain(T::ALIASES.iter().map(|a| a.name))
                .collect()
        }
        match self {
            Self::Transport => names::<Transport>(),
            Self::Endpoint => names::<Endpoint>(),
            Self::Aor => names::<Aor>(),
            Self::Auth => names::<Auth>(),
            Self::Contact => names::<Contact>(),
            Self::Identify => names::<Identify>(),
            Self::Registration => names::<Registration>(),
            Self::DomainAlias => names::<DomainAlias>(),
            Self::Acl => names::<Acl>(),
            Self::Global => names::<Global>(),
            Self::System => names::<System>(),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let l = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == l)
            .ok_or_else(|| format!("unknown object type '{s}'"))
    }
}

/// A reference from one object to another by name (`aors=`, `auth=`, `endpoint=`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The option holding the reference.
    pub option: &'static str,
    /// The type referred to.
    pub kind: Kind,
    /// The id referred to.
    pub id: String,
}

impl Reference {
    /// A reference through `option` to object `id` of type `kind`.
    pub fn new(option: &'static str, kind: Kind, id: impl Into<String>) -> Self {
        Self {
            option,
            kind,
            id: id.into(),
        }
    }
}

/// What every object type provides beyond its option table.
pub trait ConfigObject: Options + Clone + PartialEq + fmt::Debug + Send + Sync + 'static {
    /// Its type.
    const KIND: Kind;
    /// Deprecated or alternative option names.
    const ALIASES: &'static [Alias] = &[];
    /// Checks that involve several options, run once all lines are applied (Asterisk's
    /// "apply" handlers). Each returned string is an error that rejects the object.
    fn validate(&self, _id: &str) -> Vec<String> {
        Vec::new()
    }
    /// The other objects this one names.
    fn references(&self) -> Vec<Reference> {
        Vec::new()
    }
    /// Wraps into [`Object`].
    fn into_object(self) -> Object;
}

/// Any configuration object.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    /// A transport.
    Transport(Box<Transport>),
    /// An endpoint.
    Endpoint(Box<Endpoint>),
    /// An address of record.
    Aor(Aor),
    /// An authentication object.
    Auth(Auth),
    /// A static contact.
    Contact(Contact),
    /// An identify rule.
    Identify(Identify),
    /// An outbound registration.
    Registration(Box<Registration>),
    /// A domain alias.
    DomainAlias(DomainAlias),
    /// An ACL.
    Acl(Acl),
    /// Global settings.
    Global(Box<Global>),
    /// System settings.
    System(System),
}

/// Runs `$body` with `$o` bound to a reference to the inner value of an [`Object`],
/// whatever its type (boxed variants are dereferenced). `with_object!(&mut obj, mut o => ..)`
/// binds a mutable reference.
#[macro_export]
macro_rules! with_object {
    ($obj:expr, mut $o:ident => $body:expr) => {
        $crate::with_object!(@arms $obj, $o, (&mut **), $body)
    };
    ($obj:expr, $o:ident => $body:expr) => {
        $crate::with_object!(@arms $obj, $o, (&**), $body)
    };
    (@arms $obj:expr, $o:ident, ($($unbox:tt)*), $body:expr) => {
        match $obj {
            $crate::config::types::Object::Transport($o) => {
                let $o = $($unbox)* $o;
                $body
            }
            $crate::config::types::Object::Endpoint($o) => {
                let $o = $($unbox)* $o;
                $body
            }
            $crate::config::types::Object::Aor($o) => $body,
            $crate::config::types::Object::Auth($o) => $body,
            $crate::config::types::Object::Contact($o) => $body,
            $crate::config::types::Object::Identify($o) => $body,
            $crate::config::types::Object::Registration($o) => {
                let $o = $($unbox)* $o;
                $body
            }
            $crate::config::types::Object::DomainAlias($o) => $body,
            $crate::config::types::Object::Acl($o) => $body,
            $crate::config::types::Object::Global($o) => {
                let $o = $($unbox)* $o;
                $body
            }
            $crate::config::types::Object::System($o) => $body,
        }
    };
}

impl Object {
    /// Its type.
    pub fn kind(&self) -> Kind {
        fn k<T: ConfigObject>(_: &T) -> Kind {
            T::KIND
        }
        with_object!(self, o => k(o))
    }

    /// Every option with its value rendered as config lines.
    pub fn option_values(&self) -> Vec<(&'static str, Vec<String>)> {
        with_object!(self, o => o.option_values())
    }

    /// Options whose value differs from the type's default.
    pub fn changed_options(&self) -> Vec<(&'static str, Vec<String>)> {
        fn changed<T: ConfigObject>(o: &T) -> Vec<(&'static str, Vec<String>)> {
            let defaults = T::defaults().option_values();
            o.option_values()
                .into_iter()
                .zip(defaults)
                .filter(|((_, v), (_, d))| v != d)
                .map(|(v, _)| v)
                .collect()
        }
        with_object!(self, o => changed(o))
    }

    /// The other objects this one names.
    pub fn references(&self) -> Vec<Reference> {
        with_object!(self, o => o.references())
    }

    /// Multi-option checks.
    pub fn validate(&self, id: &str) -> Vec<String> {
        with_object!(self, o => o.validate(id))
    }
}

/// Builds an empty object of `kind` with its defaults.
pub fn new_object(kind: Kind) -> Object {
    match kind {
        Kind::Transport => Object::Transport(Box::default()),
        Kind::Endpoint => Object::Endpoint(Box::default()),
        Kind::Aor => Object::Aor(Aor::default()),
        Kind::Auth => Object::Auth(Auth::default()),
        Kind::Contact => Object::Contact(Contact::default()),
        Kind::Identify => Object::Identify(Identify::default()),
        Kind::Registration => Object::Registration(Box::default()),
        Kind::DomainAlias => Object::DomainAlias(DomainAlias::default()),
        Kind::Acl => Object::Acl(Acl::default()),
        Kind::Global => Object::Global(Box::default()),
        Kind::System => Object::System(System::default()),
    }
}

/// Result of applying one line to an object.
#[derive(Debug, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// Applied; `support` says whether pjsipd acts on it.
    Applied {
        /// The real option name (after resolving aliases).
        option: &'static str,
        /// Whether it is acted on.
        support: super::options::Support,
    },
    /// No such option.
    Unknown,
    /// The value is bad.
    Invalid(String),
}

impl Object {
    /// Applies one `name = value` line; `seen` tracks which options were already set in this
    /// object (for list semantics).
    pub fn apply_line(
        &mut self,
        name: &str,
        value: &str,
        seen: &mut Vec<&'static str>,
    ) -> ApplyOutcome {
        fn apply<T: ConfigObject>(
            o: &mut T,
            name: &str,
            value: &str,
            seen: &mut Vec<&'static str>,
        ) -> ApplyOutcome {
            let (target, rewritten);
            let value = match T::ALIASES.iter().find(|a| a.name == name) {
                Some(alias) => {
                    target = alias.target;
                    rewritten = (alias.rewrite)(value);
                    rewritten.as_str()
                }
                None => {
                    target = name;
                    value
                }
            };
            let Some((info, apply)) = T::option_index(target)
                .and_then(|i| Some((T::OPTIONS.get(i)?, T::APPLIERS.get(i)?)))
            else {
                return ApplyOutcome::Unknown;
            };
            let first = !seen.contains(&info.name);
            if first {
                seen.push(info.name);
            }
            match apply(o, value, first) {
                Ok(()) => ApplyOutcome::Applied {
                    option: info.name,
                    support: info.support,
                },
                Err(e) => ApplyOutcome::Invalid(e),
            }
        }
        with_object!(self, mut o => apply(o, name, value, seen))
    }
}

/// Splits a reference list option into [`Reference`]s.
pub(crate) fn refs<'a>(
    option: &'static str,
    kind: Kind,
    ids: impl IntoIterator<Item = &'a super::options::Name>,
) -> impl Iterator<Item = Reference> {
    ids.into_iter()
        .map(move |n| Reference::new(option, kind, n.as_str()))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_validation;
