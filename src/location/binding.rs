//! One registered contact (a binding, RFC 3261 10.3) as the location service keeps it and
//! the contact database stores it.

use std::fmt;
use std::net::SocketAddr;

use md5::{Digest, Md5};

use crate::transport::ConnectionId;

/// A contact's id within its AOR: the MD5 of its URI text, as Asterisk names contacts
/// (`<aor>;@<md5>`); `pjsip show contacts` prints its first 10 characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContactHash(pub String);

impl ContactHash {
    /// The hash of a contact URI's text.
    pub fn of(uri: &str) -> Self {
        Self(hex::encode(Md5::digest(uri.as_bytes())))
    }
}

impl fmt::Display for ContactHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered contact.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// The AOR it is bound to.
    pub aor: String,
    /// The contact URI as stored: after `rewrite_contact`, the packet's source.
    pub uri: String,
    /// The URI as the device wrote it (differs from `uri` when rewritten); the 200 OK lists
    /// this one, so that the device recognises its own binding.
    pub registered_uri: String,
    /// [`ContactHash`] of `uri`.
    pub hash: ContactHash,
    /// When it expires, Unix seconds.
    pub expires_at: u64,
    /// Path header values (RFC 3327), in order: the route set towards the contact.
    pub path: Vec<String>,
    /// User-Agent of the REGISTER.
    pub user_agent: String,
    /// The endpoint that registered it.
    pub endpoint: String,
    /// Sent-by host of the REGISTER's last Via.
    pub via_addr: String,
    /// Sent-by port of the REGISTER's last Via (0 when absent).
    pub via_port: u16,
    /// Call-ID of the REGISTER.
    pub call_id: String,
    /// CSeq number of the REGISTER.
    pub cseq: u32,
    /// `+sip.instance` of the Contact (RFC 5626): a device re-registering with the same
    /// instance (and reg-id) replaces its old binding.
    pub instance: Option<String>,
    /// `reg-id` of the Contact (RFC 5626).
    pub reg_id: Option<u32>,
    /// Where the REGISTER came from.
    pub source: SocketAddr,
    /// The `type=transport` object it came in on.
    pub transport: String,
    /// `udp`, `tcp`, `tls`, `ws` or `wss`.
    pub protocol: String,
    /// The connection it came on (TCP/TLS/WS); not persisted: connections do not survive
    /// a restart.
    pub connection: Option<ConnectionId>,
    /// Reachable only over that connection: removed when it closes and at start-up.
    pub prune_on_boot: bool,
}

impl Binding {
    /// Asterisk's contact id, `<aor>;@<hash>`.
    pub fn id(&self) -> String {
        format!("{};@{}", self.aor, self.hash)
    }

    /// Seconds left at `unix_now` (0 when expired).
    pub fn remaining(&self, unix_now: u64) -> u64 {
        self.expires_at.saturating_sub(unix_now)
    }

    /// True once expired.
    pub fn expired(&self, unix_now: u64) -> bool {
        self.expires_at <= unix_now
    }
}

/// A change to write to the contact database.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Insert or replace this binding (key: AOR and hash).
    Put(Box<Binding>),
    /// Remove one binding.
    Delete {
        /// Its AOR.
        aor: String,
        /// Its hash.
        hash: ContactHash,
    },
}
