//! Host names of the configuration resolved ahead of use: the registrars and proxies of
//! `type=registration` objects and the hosts of static AOR contacts. The daemon resolves
//! them (A/AAAA through the system resolver) when it loads or reloads the configuration, on
//! its loading thread, and the SIP queues look them up without ever waiting for DNS.
//!
//! RFC 3263 NAPTR/SRV selection is not done yet: a name resolves to its first address, at
//! the URI's port (5060 by default).

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock, mpsc};
use std::time::Duration;

/// Names and their addresses.
#[derive(Debug, Default)]
pub struct HostCache {
    hosts: RwLock<HashMap<String, Vec<IpAddr>>>,
}

impl HostCache {
    /// The first address `host` resolved to at the last load that `usable` accepts.
    pub fn lookup(&self, host: &str, usable: impl Fn(IpAddr) -> bool) -> Option<IpAddr> {
        self.hosts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&host.to_ascii_lowercase())
            .and_then(|a| a.iter().copied().find(|ip| usable(*ip)))
    }

    /// Resolves every name of `hosts` (in parallel, waiting `within` at most for all of
    /// them) and replaces the cache with the results; names that did not resolve in time
    /// keep their previous addresses. Returns the names that could not be resolved.
    pub fn refresh(self: &Arc<Self>, hosts: Vec<String>, within: Duration) -> Vec<String> {
        let mut wanted: Vec<String> = hosts.into_iter().map(|h| h.to_ascii_lowercase()).collect();
        wanted.sort();
        wanted.dedup();
        let (tx, rx) = mpsc::channel();
        for host in &wanted {
            let (tx, host) = (tx.clone(), host.clone());
            // getaddrinfo cannot be cancelled: a lookup that outlives `within` finishes
            // on its own thread and is dropped.
            let spawned = std::thread::Builder::new()
                .name("pjsipd-resolve".into())
                .spawn(move || {
                    let addrs: Vec<IpAddr> = (host.as_str(), 0)
                        .to_socket_addrs()
                        .map(|a| a.map(|s| s.ip()).collect())
                        .unwrap_or_default();
                    let _ = tx.send((host, addrs));
                });
            if let Err(e) = spawned {
                tracing::error!("cannot start a resolver thread: {e}");
            }
        }
        drop(tx);
        let mut found: HashMap<String, Vec<IpAddr>> = HashMap::new();
        let mut left = within;
        let step = Duration::from_millis(10);
        while found.len() < wanted.len() {
            match rx.recv_timeout(step) {
                Ok((host, addrs)) => {
                    found.insert(host, addrs);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    left = left.saturating_sub(step);
                    if left.is_zero() {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let mut failed = Vec::new();
        let mut hosts = self.hosts.write().unwrap_or_else(|p| p.into_inner());
        let old = std::mem::take(&mut *hosts);
        for name in wanted {
            match found.remove(&name) {
                Some(addrs) if !addrs.is_empty() => {
                    hosts.insert(name, addrs);
                }
                _ => {
                    if let Some(previous) = old.get(&name) {
                        hosts.insert(name.clone(), previous.clone());
                    }
                    failed.push(name);
                }
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_resolves_and_a_bad_name_is_reported() {
        let cache = Arc::new(HostCache::default());
        let failed = cache.refresh(
            vec![
                "localhost".into(),
                "LOCALHOST".into(),
                "no-such-host.invalid".into(),
            ],
            Duration::from_secs(10),
        );
        assert_eq!(failed, vec!["no-such-host.invalid".to_string()]);
        assert!(
            cache
                .lookup("LocalHost", |ip| ip.is_ipv4())
                .is_some_and(|ip| ip.is_loopback())
        );
        assert!(cache.lookup("no-such-host.invalid", |_| true).is_none());
    }
}
