//! `pjsipd --check`: validate the configuration without starting (like `nginx -t`).
//!
//! Needs neither the control socket nor the data directory, so it can run before a restart,
//! as another user, or in CI against a configuration repository.

use std::path::Path;

use super::instance::{check_extensions_conf, count, load_pjsip_conf};
use super::paths::ConfigPaths;
use super::settings::Settings;
use crate::config::Severity;
use crate::sorcery::{RefPolicy, Store, StoredObject};

/// What `--check` found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Every problem, one per line (file:line first where known), then a summary line.
    pub lines: Vec<String>,
    /// False when anything is an error: the daemon would refuse to start or would not load
    /// some objects.
    pub ok: bool,
}

/// Checks `pjsipd.toml`, `pjsip.conf` and `extensions.conf` in `config_dir`, reporting as
/// much as can be found in one pass.
pub fn check(config_dir: &Path) -> CheckReport {
    let mut lines = Vec::new();
    let paths = match ConfigPaths::resolve(config_dir) {
        Ok(p) => p,
        Err(e) => {
            return CheckReport {
                lines: vec![format!("error: {e}")],
                ok: false,
            };
        }
    };
    // Each file is checked even when an earlier one failed: one run shows every problem.
    let mut ok = true;
    if let Err(e) = Settings::load(&paths.settings, &paths.dir) {
        lines.push(e.to_string());
        ok = false;
    }
    match load_pjsip_conf(&paths.pjsip_conf) {
        Err(e) => {
            lines.push(format!("{e}"));
            lines.push("pjsip.conf: not loaded (fatal error)".to_string());
            ok = false;
        }
        Ok(built) => {
            lines.extend(built.diagnostics.iter().map(ToString::to_string));
            let mut errors = count(&built.diagnostics, Severity::Error);
            let warnings = count(&built.diagnostics, Severity::Warning);
            let objects = built.objects.len();
            // Apply to a scratch store too: the store checks the configuration as a whole
            // (e.g. one [global] at most), which the daemon would refuse at start.
            let stored: Vec<StoredObject> = built.objects.into_iter().map(Into::into).collect();
            if let Err(e) = Store::new().replace_file_objects(stored, RefPolicy::Lenient) {
                for p in &e.problems {
                    lines.push(format!("{}: error: {p}", paths.pjsip_conf.display()));
                }
                errors += e.problems.len();
            }
            lines.push(format!(
                "pjsip.conf: {objects} objects, {errors} errors, {warnings} warnings"
            ));
            ok &= errors == 0;
        }
    }
    if let Err(e) = check_extensions_conf(&paths.extensions_conf) {
        lines.push(format!("error: {e}"));
        ok = false;
    }
    match super::tables::load(&paths.dir) {
        Ok(loaded) => {
            lines.extend(loaded.diagnostics.iter().map(ToString::to_string));
            lines.extend(loaded.notes.iter().map(|n| format!("warning: {n}")));
            let errors = count(&loaded.diagnostics, Severity::Error);
            lines.push(format!(
                "extensions.conf: {} contexts; acl.conf: {} named ACLs; {errors} errors",
                loaded.tables.dialplan.contexts().len(),
                loaded.tables.named_acls.len()
            ));
            ok &= errors == 0;
        }
        Err(d) => {
            lines.push(d.to_string());
            ok = false;
        }
    }
    CheckReport { lines, ok }
}
