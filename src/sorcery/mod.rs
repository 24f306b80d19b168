//! The live object store ("sorcery"): every configuration object keyed by (type, id).
//!
//! - Readers take an immutable [`Snapshot`] (lock-free, `ArcSwap`); a snapshot never changes,
//!   so a request sees one consistent generation of configuration from start to end.
//! - Writers submit a [`Transaction`] of puts and deletes; it is validated as a whole and
//!   applied all or nothing, producing a new snapshot and a [`ChangeSet`] that observers
//!   receive: exactly the objects created, updated and deleted.
//! - An object put unchanged is untouched: the snapshot keeps the very same `Arc`.
//! - [`Indexes`] serve the lookups the SIP layers need (auth by username, identify by
//!   address, endpoints by AOR) and are maintained incrementally.

mod index;
mod object;
mod store;

pub use index::{IdentifyMatch, Indexes};
pub use object::{ObjectKey, ObjectRef, Origin, StoredObject, TenantId};
pub use store::{ChangeSet, Observer, RefPolicy, Snapshot, Store, Transaction, TxError, TxProblem};
