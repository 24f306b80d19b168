//! The async shell around the sans-IO core: serialized task queues (and, next, transports).

pub mod serializer;

pub use serializer::{Job, Overloaded, PoolStats, SerializerPool};
