//! The files besides pjsip.conf the SIP core consults: `extensions.conf` (which extensions
//! exist) and `acl.conf` (named ACLs). Both are optional; line errors are reported with
//! file:line and skipped, the rest loads (as Asterisk's `dialplan reload` and `acl reload`).

use std::path::Path;

use crate::acl::{ACL_CONF, NamedAcls};
use crate::config::diagnostic::Diagnostic;
use crate::config::ini::RealFs;
use crate::core::Tables;
use crate::dialplan::Dialplan;

/// What loading found.
pub(crate) struct LoadedTables {
    /// The tables to use.
    pub tables: Tables,
    /// Problems, each naming its file and line.
    pub diagnostics: Vec<Diagnostic>,
    /// Notes for the operator (a missing file).
    pub notes: Vec<String>,
}

/// Loads `extensions.conf` and `acl.conf` from `dir`. A file that exists but cannot be read
/// as a whole is an error naming it.
pub(crate) fn load(dir: &Path) -> Result<LoadedTables, Box<Diagnostic>> {
    let mut diagnostics = Vec::new();
    let mut notes = Vec::new();
    let extensions = dir.join("extensions.conf");
    let dialplan = if extensions.exists() {
        let loaded = Dialplan::load(&RealFs, &extensions)?;
        diagnostics.extend(loaded.diagnostics);
        loaded.dialplan
    } else {
        notes.push(format!(
            "{}: not found; every extension is unknown (OPTIONS to one gets 404)",
            extensions.display()
        ));
        Dialplan::default()
    };
    let acls = NamedAcls::load(&RealFs, &dir.join(ACL_CONF)).map_err(|e| e.0)?;
    diagnostics.extend(acls.diagnostics);
    Ok(LoadedTables {
        tables: Tables {
            named_acls: acls.acls,
            dialplan,
        },
        diagnostics,
        notes,
    })
}
