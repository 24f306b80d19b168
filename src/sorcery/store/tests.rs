//! Store tests: transactions, change sets, observers and indexes.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::*;
use crate::config::options::OptionValue;
use crate::config::types::{Aor, Auth, Endpoint, Identify};
use crate::sorcery::{Origin, StoredObject, TenantId};

fn aor(id: &str, max: u32) -> StoredObject {
    let a = Aor {
        max_contacts: max,
        ..Aor::default()
    };
    StoredObject::new(id, Origin::Runtime, Object::Aor(a))
}

fn auth(id: &str, user: &str) -> StoredObject {
    let a = Auth {
        username: user.into(),
        password: "pw".into(),
        ..Auth::default()
    };
    StoredObject::new(id, Origin::Runtime, Object::Auth(a))
}

fn endpoint(id: &str, aors: &str) -> StoredObject {
    let mut e = Endpoint::default();
    let _ = e.aors.apply(aors);
    StoredObject::new(id, Origin::Runtime, Object::Endpoint(Box::new(e)))
}

fn identify(id: &str, ep: &str, matches: &str) -> StoredObject {
    let mut i = Identify {
        endpoint: ep.into(),
        ..Identify::default()
    };
    let _ = i.r#match.apply(matches);
    StoredObject::new(id, Origin::Runtime, Object::Identify(i))
}

#[derive(Default)]
struct Recorder(Mutex<Vec<(usize, usize, usize, u64)>>);

impl Observer for Recorder {
    fn changed(&self, c: &ChangeSet, snap: &Snapshot) {
        if let Ok(mut v) = self.0.lock() {
            v.push((
                c.created.len(),
                c.updated.len(),
                c.deleted.len(),
                snap.generation(),
            ));
        }
    }
}

fn applied(store: &Store, tx: Transaction, policy: RefPolicy) -> ChangeSet {
    match store.apply(tx, policy) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn related_objects_are_created_together_and_observed_once() {
    let store = Store::new();
    let rec = Arc::new(Recorder::default());
    store.subscribe(rec.clone());
    let c = applied(
        &store,
        Transaction::new()
            .put(endpoint("6001", "6001"))
            .put(aor("6001", 1))
            .put(auth("6001", "6001")),
        RefPolicy::Strict,
    );
    assert_eq!(
        (c.created.len(), c.updated.len(), c.deleted.len()),
        (3, 0, 0)
    );
    assert_eq!(store.snapshot().len(), 3);
    assert_eq!(
        *rec.0.lock().unwrap_or_else(|p| p.into_inner()),
        vec![(3, 0, 0, 1)]
    );
}

#[test]
fn strict_transaction_with_a_dangling_reference_changes_nothing() {
    let store = Store::new();
    let err = store.apply(
        Transaction::new()
            .put(aor("a", 1))
            .put(endpoint("e", "missing")),
        RefPolicy::Strict,
    );
    let Err(e) = err else { panic!("accepted") };
    assert!(
        e.to_string()
            .contains("option 'aors': aor 'missing' does not exist"),
        "{e}"
    );
    assert!(store.snapshot().is_empty());
    assert_eq!(store.snapshot().generation(), 0);
}

#[test]
fn deleting_a_referenced_object_is_refused_when_strict() {
    let store = Store::new();
    applied(
        &store,
        Transaction::new().put(aor("a", 1)).put(endpoint("e", "a")),
        RefPolicy::Strict,
    );
    let r = store.apply(
        Transaction::new().delete(ObjectKey::new(Kind::Aor, "a")),
        RefPolicy::Strict,
    );
    assert!(matches!(r, Err(e) if e.to_string().contains("still referenced by endpoint 'e'")));
    let c = applied(
        &store,
        Transaction::new()
            .delete(ObjectKey::new(Kind::Aor, "a"))
            .delete(ObjectKey::new(Kind::Endpoint, "e")),
        RefPolicy::Strict,
    );
    assert_eq!(c.deleted.len(), 2);
}

#[test]
fn invalid_objects_are_refused() {
    let store = Store::new();
    let bad = StoredObject::new("x", Origin::Runtime, Object::Auth(Auth::default()));
    let r = store.apply(Transaction::new().put(bad), RefPolicy::Lenient);
    assert!(matches!(r, Err(e) if e.to_string().contains("No authentication username")));
}

#[test]
fn unchanged_put_is_untouched_and_not_notified() {
    let store = Store::new();
    let rec = Arc::new(Recorder::default());
    applied(
        &store,
        Transaction::new().put(aor("a", 1)),
        RefPolicy::Lenient,
    );
    let before = store.snapshot();
    store.subscribe(rec.clone());
    let c = applied(
        &store,
        Transaction::new().put(aor("a", 1)),
        RefPolicy::Lenient,
    );
    assert!(c.is_empty());
    let after = store.snapshot();
    assert_eq!(after.generation(), before.generation());
    let (Some(x), Some(y)) = (before.get(Kind::Aor, "a"), after.get(Kind::Aor, "a")) else {
        panic!("missing")
    };
    assert!(Arc::ptr_eq(x, y));
    assert!(rec.0.lock().unwrap_or_else(|p| p.into_inner()).is_empty());
}

#[test]
fn reload_changes_exactly_what_differs() {
    let store = Store::new();
    let file = |o: StoredObject| StoredObject {
        origin: Origin::File(crate::config::Location::synthetic("test")),
        ..o
    };
    applied(
        &store,
        Transaction::new()
            .put(file(aor("a", 1)))
            .put(file(aor("b", 1)))
            .put(file(aor("c", 1)))
            .put(aor("runtime", 1)),
        RefPolicy::Lenient,
    );
    let c = match store.replace_file_objects(
        vec![file(aor("a", 1)), file(aor("b", 2)), file(aor("d", 1))],
        RefPolicy::Lenient,
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let names = |v: &[ObjectRef]| v.iter().map(|o| o.id().to_string()).collect::<Vec<_>>();
    assert_eq!(names(&c.created), vec!["d"]);
    assert_eq!(
        c.updated
            .iter()
            .map(|(_, n)| n.id().to_string())
            .collect::<Vec<_>>(),
        vec!["b"]
    );
    assert_eq!(names(&c.deleted), vec!["c"]);
    // Run-time objects survive a reload of the files.
    assert!(store.snapshot().get(Kind::Aor, "runtime").is_some());
}

#[test]
fn a_key_changed_twice_in_one_transaction_is_refused() {
    let store = Store::new();
    let r = store.apply(
        Transaction::new().put(aor("a", 1)).put(aor("a", 2)),
        RefPolicy::Lenient,
    );
    assert!(matches!(r, Err(e) if e.to_string().contains("changed twice")));
}

#[test]
fn references_cannot_cross_tenants() {
    let store = Store::new();
    let t = |o: StoredObject, t: &str| o.with_tenant(Some(TenantId(Arc::from(t))));
    applied(
        &store,
        Transaction::new().put(t(aor("a", 1), "acme")),
        RefPolicy::Strict,
    );
    let r = store.apply(
        Transaction::new().put(t(endpoint("e", "a"), "globex")),
        RefPolicy::Strict,
    );
    assert!(matches!(r, Err(e) if e.to_string().contains("belongs to another tenant")));
    applied(
        &store,
        Transaction::new().put(t(endpoint("e", "a"), "acme")),
        RefPolicy::Strict,
    );
}

#[test]
fn indexes_follow_changes() {
    let store = Store::new();
    applied(
        &store,
        Transaction::new()
            .put(auth("a1", "alice"))
            .put(auth("a2", "alice"))
            .put(endpoint("e1", "x,y"))
            .put(endpoint("e2", "y")),
        RefPolicy::Lenient,
    );
    let s = store.snapshot();
    assert_eq!(s.indexes().auths_by_username("alice"), ["a1", "a2"]);
    assert_eq!(s.indexes().endpoints_by_aor("y"), ["e1", "e2"]);
    applied(
        &store,
        Transaction::new()
            .put(auth("a2", "bob"))
            .put(endpoint("e1", "x")),
        RefPolicy::Lenient,
    );
    let s = store.snapshot();
    assert_eq!(s.indexes().auths_by_username("alice"), ["a1"]);
    assert_eq!(s.indexes().auths_by_username("bob"), ["a2"]);
    assert_eq!(s.indexes().endpoints_by_aor("y"), ["e2"]);
    applied(
        &store,
        Transaction::new().delete(ObjectKey::new(Kind::Auth, "a1")),
        RefPolicy::Lenient,
    );
    assert!(
        store
            .snapshot()
            .indexes()
            .auths_by_username("alice")
            .is_empty()
    );
}

#[test]
fn identify_lookup_prefers_longest_prefix_then_port() {
    let store = Store::new();
    applied(
        &store,
        Transaction::new()
            .put(identify("wide", "e1", "10.0.0.0/8"))
            .put(identify("narrow", "e2", "10.1.0.0/16"))
            .put(identify("host", "e3", "10.1.2.3"))
            .put(identify("hostport", "e4", "10.1.2.3:5070"))
            .put(identify("v6", "e5", "2001:db8::/32")),
        RefPolicy::Lenient,
    );
    let s = store.snapshot();
    let who = |ip: &str, port: u16| {
        let ip: IpAddr = ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        s.indexes().identify_for(ip, port).map(|m| m.identify)
    };
    assert_eq!(who("10.9.9.9", 5060).as_deref(), Some("wide"));
    assert_eq!(who("10.1.9.9", 5060).as_deref(), Some("narrow"));
    assert_eq!(who("10.1.2.3", 5060).as_deref(), Some("host"));
    assert_eq!(who("10.1.2.3", 5070).as_deref(), Some("hostport"));
    assert_eq!(who("2001:db8::7", 5060).as_deref(), Some("v6"));
    assert_eq!(who("192.0.2.1", 5060), None);
    applied(
        &store,
        Transaction::new().delete(ObjectKey::new(Kind::Identify, "host")),
        RefPolicy::Lenient,
    );
    let s2 = store.snapshot();
    let ip: IpAddr = "10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
    assert_eq!(
        s2.indexes()
            .identify_for(ip, 5060)
            .map(|m| m.identify)
            .as_deref(),
        Some("narrow")
    );
}

#[test]
fn snapshots_do_not_change_under_readers() {
    let store = Store::new();
    applied(
        &store,
        Transaction::new().put(aor("a", 1)),
        RefPolicy::Lenient,
    );
    let old = store.snapshot();
    applied(
        &store,
        Transaction::new().put(aor("a", 5)),
        RefPolicy::Lenient,
    );
    assert!(
        matches!(old.get(Kind::Aor, "a").map(|o| &o.object), Some(Object::Aor(a)) if a.max_contacts == 1)
    );
    assert!(
        matches!(store.snapshot().get(Kind::Aor, "a").map(|o| &o.object), Some(Object::Aor(a)) if a.max_contacts == 5)
    );
}

#[test]
fn a_file_delta_changes_only_what_it_names() {
    let store = Store::new();
    let file = |o: StoredObject| StoredObject {
        origin: Origin::File(crate::config::Location::synthetic("test")),
        ..o
    };
    applied(
        &store,
        Transaction::new()
            .put(file(aor("a", 1)))
            .put(file(aor("b", 1)))
            .put(file(aor("c", 1)))
            .put(aor("runtime", 1)),
        RefPolicy::Lenient,
    );
    let removed = vec![
        (Kind::Aor, Arc::<str>::from("c")),
        (Kind::Aor, Arc::<str>::from("runtime")),
        (Kind::Aor, Arc::<str>::from("never-existed")),
    ];
    let c = match store.apply_file_delta(
        vec![file(aor("b", 9)), file(aor("a", 1))],
        &removed,
        RefPolicy::Lenient,
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        (c.created.len(), c.updated.len(), c.deleted.len()),
        (0, 1, 1)
    );
    assert_eq!(c.updated[0].1.id(), "b");
    assert_eq!(c.deleted[0].id(), "c");
    // Run-time objects are not the files' to delete.
    assert!(store.snapshot().get(Kind::Aor, "runtime").is_some());
}
