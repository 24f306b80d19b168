//! Snapshots, transactions and observers.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet, HashSetExt};

use imbl::OrdMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};

use arc_swap::ArcSwap;

use super::index::Indexes;
use super::object::{ObjectKey, ObjectRef, StoredObject};
use crate::config::types::{Kind, Object};

/// One immutable generation of the configuration.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    generation: u64,
    /// Objects per type, sorted by id (listings are in id order, as Asterisk's are).
    /// Persistent maps: the next generation shares all unchanged nodes with this one, so a
    /// one-object change costs O(log n) however large the configuration.
    by_kind: BTreeMap<Kind, OrdMap<String, ObjectRef>>,
    indexes: Indexes,
}

impl Snapshot {
    /// Increases by one with every applied transaction that changed something.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The object `id` of type `kind`.
    pub fn get(&self, kind: Kind, id: &str) -> Option<&ObjectRef> {
        self.by_kind.get(&kind).and_then(|m| m.get(id))
    }

    /// Every object of `kind`, in id order.
    pub fn all(&self, kind: Kind) -> impl Iterator<Item = &ObjectRef> {
        self.by_kind.get(&kind).into_iter().flat_map(|m| m.values())
    }

    /// How many objects of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.by_kind.get(&kind).map_or(0, |m| m.len())
    }

    /// Every object, types in [`Kind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = &ObjectRef> {
        Kind::ALL.into_iter().flat_map(|k| self.all(k))
    }

    /// Total number of objects.
    pub fn len(&self) -> usize {
        self.by_kind.values().map(|m| m.len()).sum()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The secondary indexes.
    pub fn indexes(&self) -> &Indexes {
        &self.indexes
    }

    /// Typed access: the endpoint `id`.
    pub fn endpoint(&self, id: &str) -> Option<&crate::config::types::Endpoint> {
        match self.get(Kind::Endpoint, id).map(|o| &o.object) {
            Some(Object::Endpoint(e)) => Some(e),
            _ => None,
        }
    }

    /// Typed access: the `[global]` settings (defaults when absent).
    pub fn global(&self) -> crate::config::types::Global {
        match self.all(Kind::Global).next().map(|o| &o.object) {
            Some(Object::Global(g)) => (**g).clone(),
            _ => crate::config::types::Global::default(),
        }
    }

    /// Typed access: the `[system]` settings (defaults when absent).
    pub fn system(&self) -> crate::config::types::System {
        match self.all(Kind::System).next().map(|o| &o.object) {
            Some(Object::System(s)) => s.clone(),
            _ => crate::config::types::System::default(),
        }
    }
}

/// How a transaction treats references to objects that do not exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefPolicy {
    /// Refuse the transaction if it leaves a dangling reference it introduced (run-time
    /// changes: create the endpoint with its aor and auth in one transaction).
    Strict,
    /// Accept; dangling references were already reported (file loads, as Asterisk does).
    Lenient,
}

/// A set of changes applied together or not at all.
#[derive(Clone, Debug, Default)]
pub struct Transaction {
    ops: Vec<Op>,
}

#[derive(Clone, Debug)]
enum Op {
    Put(ObjectRef),
    Delete(ObjectKey),
}

impl Transaction {
    /// An empty transaction.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates or replaces an object.
    pub fn put(mut self, object: StoredObject) -> Self {
        self.ops.push(Op::Put(Arc::new(object)));
        self
    }

    /// Deletes an object.
    pub fn delete(mut self, key: ObjectKey) -> Self {
        self.ops.push(Op::Delete(key));
        self
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Exactly what a transaction changed.
#[derive(Clone, Debug, Default)]
pub struct ChangeSet {
    /// Generation after the change.
    pub generation: u64,
    /// New objects.
    pub created: Vec<ObjectRef>,
    /// Changed objects: (before, after).
    pub updated: Vec<(ObjectRef, ObjectRef)>,
    /// Removed objects.
    pub deleted: Vec<ObjectRef>,
}

impl ChangeSet {
    /// Number of objects changed.
    pub fn len(&self) -> usize {
        self.created.len() + self.updated.len() + self.deleted.len()
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Display for ChangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} deleted",
            self.created.len(),
            self.updated.len(),
            self.deleted.len()
        )
    }
}

/// One reason a transaction was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxProblem {
    /// The object concerned.
    pub key: ObjectKey,
    /// Why.
    pub reason: String,
}

impl fmt::Display for TxProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// A refused transaction: nothing was applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("transaction refused: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct TxError {
    /// Every problem found.
    pub problems: Vec<TxProblem>,
}

/// Told about every applied change.
pub trait Observer: Send + Sync {
    /// Called after the new snapshot is visible, on the writer's thread, in commit order.
    fn changed(&self, changes: &ChangeSet, snapshot: &Snapshot);
}

/// The store.
pub struct Store {
    current: ArcSwap<Snapshot>,
    /// Serialises writers; readers never take it.
    write: Mutex<()>,
    observers: RwLock<Vec<Arc<dyn Observer>>>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("generation", &self.current.load().generation)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store holding the objects of `text` read as a `pjsip.conf` (an `#include` in it
    /// finds no file). Every configuration error is an error, listed one per line: for
    /// tests, benchmarks and tools that build a configuration in memory.
    pub fn from_config_text(text: &str) -> Result<Self, String> {
        use crate::config::build::build;
        use crate::config::ini::{MemFs, read_str};
        let read = read_str(&MemFs::new(), std::path::Path::new("pjsip.conf"), text)
            .map_err(|e| e.to_string())?;
        let built = build(&read.document);
        let errors: Vec<String> = built
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(ToString::to_string)
            .collect();
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        let store = Self::new();
        let objects = built.objects.into_iter().map(StoredObject::from);
        store
            .replace_file_objects(objects, RefPolicy::Lenient)
            .map_err(|e| e.to_string())?;
        Ok(store)
    }

    /// An empty store.
    pub fn new() -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            write: Mutex::new(()),
            observers: RwLock::new(Vec::new()),
        }
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Registers an observer of every later change.
    pub fn subscribe(&self, observer: Arc<dyn Observer>) {
        match self.observers.write() {
            Ok(mut o) => o.push(observer),
            Err(poisoned) => poisoned.into_inner().push(observer),
        }
    }

    /// Validates and applies `tx` as one change. On error nothing changes.
    pub fn apply(&self, tx: Transaction, policy: RefPolicy) -> Result<ChangeSet, TxError> {
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let base = self.current.load_full();
        let (next, changes) = stage(&base, tx, policy)?;
        if changes.is_empty() {
            return Ok(changes);
        }
        let next = Arc::new(next);
        self.current.store(next.clone());
        let observers = match self.observers.read() {
            Ok(o) => o.clone(),
            Err(p) => p.into_inner().clone(),
        };
        for o in observers {
            o.changed(&changes, &next);
        }
        Ok(changes)
    }

    /// Replaces every file-managed object with `objects` (a full reload): objects that are
    /// the same are untouched, changed ones updated, missing ones deleted, new ones created.
    /// Run-time objects are left alone.
    pub fn replace_file_objects(
        &self,
        objects: impl IntoIterator<Item = StoredObject>,
        policy: RefPolicy,
    ) -> Result<ChangeSet, TxError> {
        let base = self.snapshot();
        let mut built: HashMap<Kind, HashSet<String>> = HashMap::default();
        let mut tx = Transaction::new();
        for o in objects {
            built
                .entry(o.kind())
                .or_default()
                .insert(o.id().to_string());
            tx = put_if_changed(&base, tx, o);
        }
        for o in base.iter() {
            if o.origin.is_file() && !built.get(&o.kind()).is_some_and(|ids| ids.contains(o.id())) {
                tx = tx.delete(o.key.clone());
            }
        }
        self.apply(tx, policy)
    }

    /// An incremental reload: `objects` were rebuilt from changed or new sections, `removed`
    /// are objects the configuration no longer makes; everything else stays as it is.
    /// O(changes), whatever the size of the configuration.
    pub fn apply_file_delta(
        &self,
        objects: impl IntoIterator<Item = StoredObject>,
        removed: &[(Kind, Arc<str>)],
        policy: RefPolicy,
    ) -> Result<ChangeSet, TxError> {
        let base = self.snapshot();
        let mut tx = Transaction::new();
        for o in objects {
            tx = put_if_changed(&base, tx, o);
        }
        for (kind, id) in removed {
            if base.get(*kind, id).is_some_and(|o| o.origin.is_file()) {
                tx = tx.delete(ObjectKey::new(*kind, id.to_string()));
            }
        }
        self.apply(tx, policy)
    }
}

/// Adds a put of `o` unless the store already has it with the same configuration: an
/// unchanged object never enters a transaction (nothing to validate or index, and the new
/// copy is freed at once).
fn put_if_changed(base: &Snapshot, tx: Transaction, o: StoredObject) -> Transaction {
    if base
        .get(o.kind(), o.id())
        .is_some_and(|old| old.same_config(&o))
    {
        tx
    } else {
        tx.put(o)
    }
}

/// Builds the next snapshot from `base` and `tx`, or says why not.
fn stage(
    base: &Snapshot,
    tx: Transaction,
    policy: RefPolicy,
) -> Result<(Snapshot, ChangeSet), TxError> {
    let mut problems = Vec::new();
    let mut next = base.clone();
    let mut changes = ChangeSet::default();
    // Keys touched, so a transaction cannot both put and delete one object.
    let mut touched: HashSet<ObjectKey> = HashSet::new();
    let mut new_refs: Vec<ObjectRef> = Vec::new();

    for op in tx.ops {
        let key = match &op {
            Op::Put(o) => o.key.clone(),
            Op::Delete(k) => k.clone(),
        };
        if !touched.insert(key.clone()) {
            problems.push(TxProblem {
                key,
                reason: "changed twice in one transaction".into(),
            });
            continue;
        }
        let map = next.by_kind.entry(key.kind).or_default();
        let idx = &mut next.indexes;
        match op {
            Op::Put(o) => {
                if o.key.kind != o.object.kind() {
                    problems.push(TxProblem {
                        key,
                        reason: format!("object is a {}, not a {}", o.object.kind(), o.key.kind),
                    });
                    continue;
                }
                let errors = o.object.validate(o.id());
                if !errors.is_empty() {
                    problems.extend(errors.into_iter().map(|reason| TxProblem {
                        key: key.clone(),
                        reason,
                    }));
                    continue;
                }
                match map.get(&key.id) {
                    Some(old) if old.same_config(&o) => {}
                    Some(old) => {
                        let old = old.clone();
                        let new = o;
                        idx.remove(&old);
                        idx.insert(&new);
                        map.insert(key.id, new.clone());
                        new_refs.push(new.clone());
                        changes.updated.push((old, new));
                    }
                    None => {
                        let new = o;
                        idx.insert(&new);
                        map.insert(key.id, new.clone());
                        new_refs.push(new.clone());
                        changes.created.push(new);
                    }
                }
            }
            Op::Delete(k) => match map.remove(&k.id) {
                Some(old) => {
                    idx.remove(&old);
                    changes.deleted.push(old);
                }
                None => problems.push(TxProblem {
                    key: k,
                    reason: "does not exist".into(),
                }),
            },
        }
    }

    for kind in Kind::ALL.into_iter().filter(|k| k.is_single()) {
        if next.count(kind) > 1 {
            problems.push(TxProblem {
                key: ObjectKey::new(kind, "*"),
                reason: format!("more than one object of type '{kind}'"),
            });
        }
    }

    if policy == RefPolicy::Strict {
        check_references(&next, &new_refs, &changes.deleted, &mut problems);
    }

    if !problems.is_empty() {
        return Err(TxError { problems });
    }
    next.by_kind.retain(|_, m| !m.is_empty());
    if !changes.is_empty() {
        next.generation = base.generation + 1;
    }
    changes.generation = next.generation;
    Ok((next, changes))
}

/// Strict reference checking: every reference made by a created or updated object must
/// resolve, no deleted object may still be referenced, and references stay inside a
/// tenant (an object of tenant A cannot name an object of tenant B).
fn check_references(
    next: &Snapshot,
    new_refs: &[ObjectRef],
    deleted: &[ObjectRef],
    problems: &mut Vec<TxProblem>,
) {
    for o in new_refs {
        for r in o.object.references() {
            match next.get(r.kind, &r.id) {
                None => problems.push(TxProblem {
                    key: o.key.clone(),
                    reason: format!(
                        "option '{}': {} '{}' does not exist",
                        r.option, r.kind, r.id
                    ),
                }),
                Some(target) if target.tenant.is_some() && target.tenant != o.tenant => problems
                    .push(TxProblem {
                        key: o.key.clone(),
                        reason: format!(
                            "option '{}': {} '{}' belongs to another tenant",
                            r.option, r.kind, r.id
                        ),
                    }),
                Some(_) => {}
            }
        }
    }
    if deleted.is_empty() {
        return;
    }
    let gone: HashSet<(Kind, &str)> = deleted.iter().map(|o| (o.kind(), o.id())).collect();
    for o in next.iter() {
        for r in o.object.references() {
            if gone.contains(&(r.kind, r.id.as_str())) {
                problems.push(TxProblem {
                    key: ObjectKey::new(r.kind, r.id.clone()),
                    reason: format!(
                        "cannot delete: still referenced by {} option '{}'",
                        o.key, r.option
                    ),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
