use super::*;

pub(crate) fn binding(aor: &str, uri: &str, expires_at: u64) -> Binding {
    Binding {
        aor: aor.into(),
        uri: uri.into(),
        registered_uri: uri.into(),
        hash: ContactHash::of(uri),
        expires_at,
        path: Vec::new(),
        user_agent: "test".into(),
        endpoint: aor.into(),
        via_addr: "127.0.0.1".into(),
        via_port: 5060,
        call_id: "c".into(),
        cseq: 1,
        instance: None,
        reg_id: None,
        source: "127.0.0.1:5060".parse().unwrap(),
        transport: "transport-udp".into(),
        protocol: "udp".into(),
        connection: None,
        prune_on_boot: false,
    }
}

#[test]
fn updates_are_recorded_and_expired_bindings_pruned() {
    let loc = Location::new();
    let (tx, rx) = std::sync::mpsc::channel();
    loc.persist_to(tx);
    loc.update_aor("alice", 100, |list, changes| {
        let b = binding("alice", "sip:alice@10.0.0.1", 160);
        changes.push(Change::Put(Box::new(b.clone())));
        list.push(Entry::new(b, false));
    });
    assert_eq!(loc.len(), 1);
    assert_eq!(loc.contacts("alice", 150).len(), 1);
    assert!(loc.contacts("alice", 160).is_empty());
    // The next update of the AOR drops the expired binding and records it.
    loc.update_aor("alice", 200, |list, _| assert!(list.is_empty()));
    assert_eq!(loc.len(), 0);
    let got: Vec<Change> = rx.try_iter().collect();
    assert_eq!(got.len(), 2);
    assert!(matches!(&got[1], Change::Delete { aor, .. } if aor == "alice"));
}

#[test]
fn sweep_and_connection_close_remove_only_their_bindings() {
    let loc = Location::new();
    let mut on_conn = binding("bob", "sip:bob@10.0.0.2;transport=tcp", 1000);
    on_conn.connection = Some(ConnectionId(7));
    on_conn.prune_on_boot = true;
    loc.restore(
        [
            binding("alice", "sip:a@10.0.0.1", 50),
            on_conn,
            binding("bob", "sip:bob@10.0.0.3", 1000),
        ],
        |_| false,
    );
    assert_eq!(loc.len(), 3);
    assert_eq!(loc.sweep(100).len(), 1);
    assert_eq!(loc.connection_closed(ConnectionId(8)).len(), 0);
    assert_eq!(loc.connection_closed(ConnectionId(7)).len(), 1);
    let left = loc.all(100);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].binding.uri, "sip:bob@10.0.0.3");
    assert_eq!(loc.len(), 1);
}

#[test]
fn static_statuses_are_kept_until_refused() {
    let loc = Location::new();
    let h = ContactHash::of("sip:gw@192.0.2.1");
    loc.set_static_status("gw", &h, Status::Reachable, None);
    loc.set_static_status("old", &h, Status::Unreachable, None);
    loc.retain_static(|aor, _| aor == "gw");
    assert_eq!(
        loc.static_status("gw", &h).map(|s| s.0),
        Some(Status::Reachable)
    );
    assert!(loc.static_status("old", &h).is_none());
}
