//! Configuration: Asterisk-syntax files read into typed objects.
//!
//! - [`ini`] reads the file syntax (sections, templates, includes) keeping file:line.
//! - [`options`] is the option-table machinery; [`types`] declares every object type.
//! - [`build`] turns sections into objects, expanding `type=wizard`, and validates them.

pub mod build;
pub mod diagnostic;
pub mod ini;
pub mod options;
pub mod source;
pub mod types;
pub mod wizard;

pub use diagnostic::{Diagnostic, Severity};
pub use source::Location;
