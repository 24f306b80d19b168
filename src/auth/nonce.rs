//! Stateless server nonces.
//!
//! A nonce is 64 lower-case hex digits:
//! `timestamp (16) ‖ sequence (16) ‖ HMAC-SHA256(key, timestamp ‖ sequence ‖ realm ‖ ip)
//! truncated to 128 bits (32)`. The server keeps no table of issued nonces: a nonce is
//! checked by recomputing the MAC, then its age against `nonce_lifetime`. The source
//! *port* is deliberately not bound (TCP reconnects), as in Asterisk; the sequence number
//! makes two nonces issued in the same second to the same address (several phones behind
//! one NAT) differ, so that nonce-count tracking does not mix them up.
//!
//! Nonces survive a restart, and are accepted by other nodes, only if the same
//! [`NonceKey`] is used: the caller persists [`NonceKey::as_bytes`] and restores it with
//! [`NonceKey::from_bytes`]. A fresh [`NonceKey::generate`] invalidates every outstanding
//! nonce (clients simply get a new challenge), like Asterisk's entity id at reload.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::error::AuthError;

/// Length of a nonce in characters.
pub const NONCE_LEN: usize = 64;

/// Bytes of MAC kept in a nonce.
const MAC_LEN: usize = 16;

/// The secret from which nonces are derived.
pub struct NonceKey {
    key: [u8; 32],
    seq: AtomicU64,
}

impl NonceKey {
    /// A new random key (32 bytes from the operating system).
    pub fn generate() -> Result<Self, AuthError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        let seq = getrandom::u64()?;
        Ok(Self {
            key,
            seq: AtomicU64::new(seq),
        })
    }

    /// A key given by the caller (persisted from an earlier run, shared by a cluster, or
    /// fixed in tests). The sequence counter starts at 0.
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self {
            key,
            seq: AtomicU64::new(0),
        }
    }

    /// The key bytes, for persisting. Keep them secret: whoever has them can mint nonces.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.key
    }

    /// Issues a nonce for `realm` and the client's `source_ip` at `now_unix_secs`.
    pub fn issue(&self, now_unix_secs: u64, realm: &str, source_ip: IpAddr) -> String {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mac = self.mac(now_unix_secs, seq, realm, source_ip);
        let mut out = String::with_capacity(NONCE_LEN);
        out.push_str(&format!("{now_unix_secs:016x}{seq:016x}"));
        out.push_str(&hex::encode(&mac[..MAC_LEN]));
        out
    }

    /// Checks a nonce received in credentials: [`NonceCheck::Invalid`] unless we issued it
    /// for this realm and source address; [`NonceCheck::Stale`] when genuine but older than
    /// `lifetime_secs`.
    pub fn check(
        &self,
        nonce: &str,
        now_unix_secs: u64,
        realm: &str,
        source_ip: IpAddr,
        lifetime_secs: u64,
    ) -> NonceCheck {
        let Some((ts, seq, mac)) = split_nonce(nonce) else {
            return NonceCheck::Invalid;
        };
        let expected = self.mac(ts, seq, realm, source_ip);
        if !bool::from(expected[..MAC_LEN].ct_eq(&mac)) {
            return NonceCheck::Invalid;
        }
        // A nonce "from the future" (clock stepped back, or a cluster peer slightly ahead)
        // is genuine: its age counts as 0.
        let age = now_unix_secs.saturating_sub(ts);
        if age > lifetime_secs {
            NonceCheck::Stale
        } else {
            NonceCheck::Valid { age }
        }
    }

    /// A secret derived from the key for another purpose (`label` separates uses).
    pub(crate) fn derive(&self, label: &str) -> [u8; 32] {
        let mut m = self.hmac();
        m.update(b"derive:");
        m.update(label.as_bytes());
        m.finalize().into_bytes().into()
    }

    fn hmac(&self) -> Hmac<Sha256> {
        // HMAC zero-pads keys shorter than the block: padding ourselves to the 64-byte
        // block size gives the same MAC and an infallible constructor.
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.key);
        <Hmac<Sha256> as KeyInit>::new(&block.into())
    }

    fn mac(&self, ts: u64, seq: u64, realm: &str, ip: IpAddr) -> [u8; 32] {
        let mut m = self.hmac();
        m.update(&ts.to_be_bytes());
        m.update(&seq.to_be_bytes());
        // Length prefix: realm and address cannot be shifted into each other.
        m.update(&(realm.len() as u64).to_be_bytes());
        m.update(realm.as_bytes());
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                m.update(&[4]);
                m.update(&v4.octets());
            }
            IpAddr::V6(v6) => {
                m.update(&[6]);
                m.update(&v6.octets());
            }
        }
        m.finalize().into_bytes().into()
    }
}

impl fmt::Debug for NonceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NonceKey(..)")
    }
}

/// Splits a nonce into timestamp, sequence and MAC; `None` if it is not one of ours in
/// shape.
fn split_nonce(nonce: &str) -> Option<(u64, u64, [u8; MAC_LEN])> {
    if nonce.len() != NONCE_LEN || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let ts = u64::from_str_radix(nonce.get(..16)?, 16).ok()?;
    let seq = u64::from_str_radix(nonce.get(16..32)?, 16).ok()?;
    let mut mac = [0u8; MAC_LEN];
    hex::decode_to_slice(nonce.get(32..)?, &mut mac).ok()?;
    Some((ts, seq, mac))
}

/// The timestamp (unix seconds) at which a nonce was issued, if it has the shape of ours.
/// Not authenticated: use [`NonceKey::check`] first.
pub fn nonce_timestamp(nonce: &str) -> Option<u64> {
    split_nonce(nonce).map(|(ts, _, _)| ts)
}

/// The result of [`NonceKey::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceCheck {
    /// Issued by us for this realm and address, `age` seconds ago.
    Valid {
        /// Seconds since issue.
        age: u64,
    },
    /// Genuine but older than the lifetime: re-challenge with `stale=true`.
    Stale,
    /// Not ours, tampered with, or for another realm or source address.
    Invalid,
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));

    fn key() -> NonceKey {
        NonceKey::from_bytes([7; 32])
    }

    #[test]
    fn fresh_nonce_is_valid() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        assert_eq!(n.len(), NONCE_LEN);
        assert_eq!(
            k.check(&n, 1010, "asterisk", IP, 32),
            NonceCheck::Valid { age: 10 }
        );
    }

    #[test]
    fn nonce_at_lifetime_is_valid_after_it_is_stale() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        assert_eq!(
            k.check(&n, 1032, "asterisk", IP, 32),
            NonceCheck::Valid { age: 32 }
        );
        assert_eq!(k.check(&n, 1033, "asterisk", IP, 32), NonceCheck::Stale);
    }

    #[test]
    fn tampered_nonce_is_invalid() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        // Change the timestamp (to make an old nonce look fresh) and the MAC.
        let later = format!("{:016x}{}", 2000u64, &n[16..]);
        assert_eq!(
            k.check(&later, 2000, "asterisk", IP, 32),
            NonceCheck::Invalid
        );
        let mut bytes = n.into_bytes();
        bytes[63] = if bytes[63] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert_eq!(
            k.check(&flipped, 1000, "asterisk", IP, 32),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn nonce_for_other_realm_is_invalid() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        assert_eq!(k.check(&n, 1000, "other", IP, 32), NonceCheck::Invalid);
    }

    #[test]
    fn nonce_for_other_source_ip_is_invalid() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(
            k.check(&n, 1000, "asterisk", other, 32),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn ipv4_mapped_ipv6_source_is_the_same_address() {
        let k = key();
        let n = k.issue(1000, "asterisk", IP);
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            k.check(&n, 1000, "asterisk", mapped, 32),
            NonceCheck::Valid { age: 0 }
        );
    }

    #[test]
    fn nonce_from_other_key_is_invalid() {
        let n = key().issue(1000, "asterisk", IP);
        let other = NonceKey::from_bytes([8; 32]);
        assert_eq!(
            other.check(&n, 1000, "asterisk", IP, 32),
            NonceCheck::Invalid
        );
    }

    #[test]
    fn persisted_key_accepts_nonces_after_restart() {
        let n = key().issue(1000, "asterisk", IP);
        let restored = NonceKey::from_bytes(*key().as_bytes());
        assert_eq!(
            restored.check(&n, 1001, "asterisk", IP, 32),
            NonceCheck::Valid { age: 1 }
        );
    }

    #[test]
    fn malformed_nonces_are_invalid() {
        let k = key();
        for n in ["", "abc", &"g".repeat(64), &"0".repeat(63), &"é".repeat(32)] {
            assert_eq!(k.check(n, 0, "asterisk", IP, 32), NonceCheck::Invalid);
        }
    }

    #[test]
    fn nonces_in_the_same_second_differ() {
        let k = key();
        assert_ne!(k.issue(1000, "asterisk", IP), k.issue(1000, "asterisk", IP));
    }

    #[test]
    fn generated_keys_differ() {
        let a = NonceKey::generate().unwrap();
        let b = NonceKey::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
    }

    #[test]
    fn timestamp_is_readable() {
        let n = key().issue(123_456, "asterisk", IP);
        assert_eq!(nonce_timestamp(&n), Some(123_456));
    }
}
