//! Secondary indexes over the store, kept up to date object by object.

use std::collections::BTreeMap;

use imbl::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::object::StoredObject;
use crate::config::types::{MatchTarget, Object};

/// The identify rule that matched an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentifyMatch {
    /// The identify object's id.
    pub identify: String,
    /// The network that matched.
    pub network: IpNet,
    /// The port it required, if any.
    pub port: Option<u16>,
}

/// Identify rules of one prefix length: network → (port, identify id), sorted.
type IdentifySlots = HashMap<IpNet, Vec<(Option<u16>, String)>>;

/// Lookups the SIP layers need, without scanning every object. The maps are persistent
/// (structure-sharing): a new snapshot's indexes cost O(changes), not O(objects).
#[derive(Clone, Debug, Default)]
pub struct Indexes {
    /// auth `username` → auth ids.
    auth_by_username: HashMap<String, Vec<String>>,
    /// aor id → endpoint ids whose `aors` name it.
    endpoints_by_aor: HashMap<String, Vec<String>>,
    /// Identify networks by prefix length, longest first: a lookup masks the address once
    /// per distinct prefix length (at most 33 or 129), then is a hash lookup.
    identify_nets: BTreeMap<std::cmp::Reverse<u8>, IdentifySlots>,
}

fn add(map: &mut HashMap<String, Vec<String>>, key: &str, id: &str) {
    let ids = map.entry(key.to_string()).or_default();
    if let Err(pos) = ids.binary_search_by(|x| x.as_str().cmp(id)) {
        ids.insert(pos, id.to_string());
    }
}

fn remove(map: &mut HashMap<String, Vec<String>>, key: &str, id: &str) {
    if let Some(ids) = map.get_mut(key) {
        ids.retain(|x| x != id);
        if ids.is_empty() {
            map.remove(key);
        }
    }
}

impl Indexes {
    /// Adds an object's entries.
    pub(super) fn insert(&mut self, o: &StoredObject) {
        match &o.object {
            Object::Auth(a) if !a.username.is_empty() => {
                add(&mut self.auth_by_username, &a.username, o.id());
            }
            Object::Endpoint(e) => {
                for aor in e.aors.iter() {
                    add(&mut self.endpoints_by_aor, aor.as_str(), o.id());
                }
            }
            Object::Identify(i) => {
                for m in i.r#match.iter() {
                    if let MatchTarget::Network { net, port } = m {
                        let slot = self
                            .identify_nets
                            .entry(std::cmp::Reverse(net.prefix_len()))
                            .or_default()
                            .entry(*net)
                            .or_default();
                        let entry = (*port, o.id().to_string());
                        if let Err(pos) = slot.binary_search(&entry) {
                            slot.insert(pos, entry);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Removes an object's entries.
    pub(super) fn remove(&mut self, o: &StoredObject) {
        match &o.object {
            Object::Auth(a) => remove(&mut self.auth_by_username, &a.username, o.id()),
            Object::Endpoint(e) => {
                for aor in e.aors.iter() {
                    remove(&mut self.endpoints_by_aor, aor.as_str(), o.id());
                }
            }
            Object::Identify(i) => {
                for m in i.r#match.iter() {
                    if let MatchTarget::Network { net, .. } = m {
                        let key = std::cmp::Reverse(net.prefix_len());
                        if let Some(by_net) = self.identify_nets.get_mut(&key) {
                            if let Some(slot) = by_net.get_mut(net) {
                                slot.retain(|(_, id)| id != o.id());
                                if slot.is_empty() {
                                    by_net.remove(net);
                                }
                            }
                            if by_net.is_empty() {
                                self.identify_nets.remove(&key);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Auth ids whose `username` is `username`.
    pub fn auths_by_username(&self, username: &str) -> &[String] {
        self.auth_by_username
            .get(username)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Endpoint ids that list `aor` in their `aors`.
    pub fn endpoints_by_aor(&self, aor: &str) -> &[String] {
        self.endpoints_by_aor
            .get(aor)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The most specific identify rule matching a source address: the longest prefix wins,
    /// then a rule naming this port over one naming no port, then the smallest id.
    pub fn identify_for(&self, ip: IpAddr, port: u16) -> Option<IdentifyMatch> {
        for (std::cmp::Reverse(len), by_net) in &self.identify_nets {
            let Ok(net) = IpNet::new(ip, *len) else {
                continue;
            };
            let net = net.trunc();
            let Some(slot) = by_net.get(&net) else {
                continue;
            };
            let best = slot
                .iter()
                .filter(|(p, _)| p.is_none_or(|p| p == port))
                .min_by_key(|(p, id)| (p.is_none(), id.as_str()));
            if let Some((p, id)) = best {
                return Some(IdentifyMatch {
                    identify: id.clone(),
                    network: net,
                    port: *p,
                });
            }
        }
        None
    }
}
