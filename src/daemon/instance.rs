//! The running daemon as the CLI sees it: the store, the configuration files, reloads and
//! the stop request.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::watch;

use super::Error;
use super::logging::LogControl;
use super::notify;
use super::paths::ConfigPaths;
use super::settings::Settings;
use crate::cli;
use crate::config::build::{self, BuildCache, BuildResult};
use crate::config::ini::RealFs;
use crate::config::{Diagnostic, Severity};
use crate::sorcery::{ChangeSet, Observer, RefPolicy, Snapshot, Store, StoredObject};

/// One running daemon.
pub(crate) struct Instance {
    paths: ConfigPaths,
    /// The settings read at start: paths in them apply only then.
    settings: Settings,
    store: Arc<Store>,
    log: LogControl,
    /// Serialises reloads: two interleaved reloads could apply an older file last.
    reload_lock: Mutex<()>,
    /// What the last applied load learnt about each section: a reload rebuilds only the
    /// sections that changed. Present only when that load had no error at all, so that it
    /// accounts for every file object in the store.
    build_cache: Mutex<Option<BuildCache>>,
    /// extensions.conf and acl.conf, replaced whole on reload.
    tables: crate::core::SharedTables,
    /// Unidentified requests per source address (`pjsip show unidentified_requests`).
    unidentified: Arc<crate::core::Unidentified>,
    /// Registered contacts.
    location: Arc<crate::location::Location>,
    /// Host names of the configuration, resolved at every load.
    hosts: Arc<crate::transport::HostCache>,
    /// Outbound registrations' states, published by the queues.
    registrations: Arc<crate::core::RegistrationStates>,
    /// The contact database's file and counters, once open.
    contact_db: std::sync::OnceLock<(
        std::path::PathBuf,
        Arc<crate::location::persist::PersistStats>,
    )>,
    /// The PBX's shared parts (media engine, channels), once started.
    calls: std::sync::OnceLock<crate::pbx::PbxShared>,
    /// The running SIP transports, once started.
    transports: std::sync::OnceLock<Arc<crate::transport::TransportHandle>>,
    /// `pjsip set logger`: runtime state, kept apart from configuration so a reload does not
    /// turn it off (an Asterisk annoyance).
    sip_logger: crate::transport::SipLogger,
    started: Instant,
    last_reload: Mutex<Instant>,
    stop: watch::Sender<bool>,
}

impl Instance {
    /// A daemon with an empty store that logs every change to it.
    pub(crate) fn new(paths: ConfigPaths, settings: Settings, log: LogControl) -> Self {
        let store = Arc::new(Store::new());
        store.subscribe(Arc::new(LogObserver));
        let now = Instant::now();
        Self {
            paths,
            settings,
            store,
            log,
            reload_lock: Mutex::new(()),
            build_cache: Mutex::new(None),
            tables: crate::core::SharedTables::default(),
            unidentified: Arc::default(),
            location: Arc::default(),
            contact_db: std::sync::OnceLock::new(),
            registrations: Arc::default(),
            hosts: Arc::default(),
            transports: std::sync::OnceLock::new(),
            calls: std::sync::OnceLock::new(),
            sip_logger: crate::transport::SipLogger::default(),
            started: now,
            last_reload: Mutex::new(now),
            stop: watch::Sender::new(false),
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The SIP traffic logger switch.
    pub(crate) fn sip_logger(&self) -> crate::transport::SipLogger {
        self.sip_logger.clone()
    }

    /// The unidentified-request table the SIP core fills.
    pub(crate) fn unidentified(&self) -> Arc<crate::core::Unidentified> {
        self.unidentified.clone()
    }

    /// Opens the contact database under `data_dir`, puts its contacts back into the
    /// location service and writes every later change to it. Problems (a corrupt file,
    /// an unwritable directory) are logged; the daemon runs on either way.
    pub(crate) fn open_contact_db(&self, data_dir: &Path) -> crate::location::persist::Writer {
        use crate::location::persist;
        let path = persist::default_path(data_dir);
        let opened = persist::open(&path, unix_now());
        for p in &opened.problems {
            tracing::error!("{p}");
        }
        let snapshot = self.store.snapshot();
        let restored = opened.bindings.len();
        self.location.restore(opened.bindings, |aor| {
            matches!(
                snapshot.get(crate::config::types::Kind::Aor, aor).map(|o| &o.object),
                Some(crate::config::types::Object::Aor(a)) if a.qualify_frequency > 0
            )
        });
        self.location.persist_to(opened.sink);
        let _ = self.contact_db.set((path.clone(), opened.stats));
        self.drop_orphan_contacts();
        tracing::info!(
            "contact database {}: {restored} contacts restored, {} kept",
            path.display(),
            self.location.len()
        );
        opened.writer
    }

    /// Removes the registered contacts whose AOR or endpoint is no longer configured
    /// (Asterisk keeps them until they expire; they could not be reached anyway, and would
    /// come back to life if an object of that name were created again).
    pub(crate) fn drop_orphan_contacts(&self) {
        let snapshot = self.store.snapshot();
        self.location.retain_aors(|b| {
            snapshot
                .get(crate::config::types::Kind::Aor, &b.aor)
                .is_some()
                && (b.endpoint.is_empty() || snapshot.endpoint(&b.endpoint).is_some())
        });
        self.location.retain_static(|aor, hash| {
            matches!(
                snapshot.get(crate::config::types::Kind::Aor, aor).map(|o| &o.object),
                Some(crate::config::types::Object::Aor(a))
                    if a.qualify_frequency > 0
                        && a.contact.0.iter().any(|c| crate::location::ContactHash::of(&c.0) == *hash)
            )
        });
    }

    /// The resolved host names.
    pub(crate) fn hosts(&self) -> Arc<crate::transport::HostCache> {
        self.hosts.clone()
    }

    /// Resolves the host names the SIP side will send to (registrars, proxies, static
    /// contacts), so that no queue ever waits for DNS; a name that does not resolve is
    /// logged and retried at the next reload.
    fn resolve_hosts(&self) {
        let names = host_names(&self.store.snapshot());
        if names.is_empty() {
            return;
        }
        for name in self.hosts.refresh(names, RESOLVE_WITHIN) {
            tracing::warn!("host '{name}' of the configuration did not resolve");
        }
    }

    /// Outbound registrations' states.
    pub(crate) fn registrations(&self) -> Arc<crate::core::RegistrationStates> {
        self.registrations.clone()
    }

    /// The location service.
    pub(crate) fn location(&self) -> Arc<crate::location::Location> {
        self.location.clone()
    }

    /// extensions.conf and acl.conf as the SIP core sees them.
    pub(crate) fn tables(&self) -> crate::core::SharedTables {
        self.tables.clone()
    }

    /// Reads extensions.conf and acl.conf and puts them in use. A file that cannot be read
    /// at all leaves the previous tables in place; line errors are logged and skipped.
    fn load_tables(&self) -> Result<(), String> {
        match super::tables::load(&self.paths.dir) {
            Ok(loaded) => {
                log_diagnostics(&loaded.diagnostics);
                for n in &loaded.notes {
                    tracing::warn!("{n}");
                }
                let contexts = loaded.tables.dialplan.contexts().len();
                let acls = loaded.tables.named_acls.len();
                self.tables.store(Arc::new(loaded.tables));
                tracing::info!("dialplan: {contexts} contexts; acl.conf: {acls} named ACLs");
                Ok(())
            }
            Err(d) => {
                tracing::error!("{d}");
                Err(d.to_string())
            }
        }
    }

    /// `[media]` of pjsipd.toml.
    pub(crate) fn media_settings(&self) -> crate::daemon::settings::MediaSettings {
        self.settings.media.clone()
    }

    /// Records the PBX's shared parts (for the channel commands).
    pub(crate) fn set_calls(&self, shared: crate::pbx::PbxShared) {
        let _ = self.calls.set(shared);
    }

    /// The PBX's shared parts, once calls are wired.
    pub(crate) fn calls(&self) -> Option<&crate::pbx::PbxShared> {
        self.calls.get()
    }

    /// Records the running SIP transports (for `pjsip show transports` and reloads).
    pub(crate) fn set_transports(&self, handle: Arc<crate::transport::TransportHandle>) {
        let _ = self.transports.set(handle);
    }

    /// Turns true once a stop was asked for.
    pub(crate) fn stop_requested(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Asks every task to stop (idempotent).
    pub(crate) fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Start-up load: a file that cannot be read at all is fatal; object-level errors are
    /// logged and the valid objects load (a typo in one endpoint must not take every phone
    /// down at boot). Returns the number of objects loaded.
    pub(crate) fn load_at_start(&self) -> Result<usize, Error> {
        let built = load_pjsip_conf(&self.paths.pjsip_conf)?;
        log_diagnostics(&built.diagnostics);
        let errors = count(&built.diagnostics, Severity::Error);
        if errors > 0 {
            tracing::error!(
                "pjsip.conf: {}; the objects concerned are not loaded, the others are",
                plural(errors, "error")
            );
        }
        let loaded = built.objects.len();
        let objects = built.objects.into_iter().map(StoredObject::from);
        self.store
            .replace_file_objects(objects, RefPolicy::Lenient)?;
        // With errors, some sections' good objects are loaded but not remembered: the next
        // reload must then compare everything.
        *self
            .build_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = (errors == 0).then_some(built.cache);
        log_identify_overlaps(&self.store.snapshot());
        self.resolve_hosts();
        release_free_memory();
        // An unreadable extensions.conf is fatal at start, as an unreadable pjsip.conf is.
        check_extensions_conf(&self.paths.extensions_conf)?;
        if let Err(e) = self.load_tables() {
            tracing::error!("starting without a dialplan and named ACLs: {e}");
        }
        Ok(loaded)
    }

    fn reload_serialised(&self) -> Result<String, String> {
        let _one_at_a_time = self
            .reload_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        notify::reloading();
        let mut note = self.reload_settings();
        let result = self.reload_pjsip_conf();
        self.drop_orphan_contacts();
        self.resolve_hosts();
        if let Err(e) = self.load_tables() {
            note = Some(match note.take() {
                Some(n) => format!("{n}\n{e}; keeping the previous dialplan and named ACLs"),
                None => format!("{e}; keeping the previous dialplan and named ACLs"),
            });
        }
        // Certificate files are re-read on every reload, changed or not: replacing the
        // files on disk is how certificates are renewed.
        if let Some(transports) = self.transports.get() {
            let problems = transports.reload_tls(&self.store);
            if !problems.is_empty() {
                let mut text = note.take().unwrap_or_default();
                for p in problems {
                    if !text.is_empty() {
                        text.push('\n');
                    }
                    text.push_str(&p);
                }
                note = Some(text);
            }
        }
        // systemd wants READY=1 after RELOADING=1 whether or not the reload worked: the
        // daemon is serving either way.
        let snapshot = self.store.snapshot();
        notify::ready(&format!(
            "generation {}: {} objects",
            snapshot.generation(),
            snapshot.len()
        ));
        match (result, note) {
            (Ok(text), Some(note)) => Ok(format!("{text}\n{note}")),
            (Err(text), Some(note)) => Err(format!("{text}\n{note}")),
            (result, None) => result,
        }
    }

    /// Re-reads `pjsipd.toml` for what can change at run time (the log level). Returns a
    /// note for the operator when something was not applied.
    fn reload_settings(&self) -> Option<String> {
        let fresh = match Settings::load(&self.paths.settings, &self.paths.dir) {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::error!("{e}; keeping the current log settings");
                return Some(format!("{e}\nKeeping the current log settings."));
            }
        };
        let mut notes = Vec::new();
        if fresh.daemon != self.settings.daemon {
            notes.push("pjsipd.toml: [daemon] changes apply only at restart".to_string());
            tracing::warn!("pjsipd.toml: [daemon] changes apply only at restart");
        }
        notes.extend(self.log.apply(&fresh.log));
        if notes.is_empty() {
            None
        } else {
            Some(notes.join("\n"))
        }
    }

    /// All or nothing: any error keeps the running configuration.
    fn reload_pjsip_conf(&self) -> Result<String, String> {
        let generation = self.store.snapshot().generation();
        let keeping = format!("Keeping the running configuration (generation {generation}).");
        let cache = self
            .build_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let built = match load_pjsip_conf_with(&self.paths.pjsip_conf, cache.as_ref()) {
            Ok(built) => built,
            Err(e) => {
                tracing::error!("reload refused: {e}");
                self.restore_cache(cache);
                return Err(format!("pjsip.conf not reloaded: {e}\n{keeping}"));
            }
        };
        log_diagnostics(&built.diagnostics);
        let errors: Vec<&Diagnostic> = built.diagnostics.iter().filter(|d| d.is_error()).collect();
        if !errors.is_empty() {
            tracing::error!(
                "reload refused: pjsip.conf has {}; keeping generation {generation}",
                plural(errors.len(), "error")
            );
            let mut lines = vec![format!(
                "pjsip.conf not reloaded: {}",
                plural(errors.len(), "error")
            )];
            lines.extend(errors.iter().map(ToString::to_string));
            lines.push(keeping);
            self.restore_cache(cache);
            return Err(lines.join("\n"));
        }
        let warnings = count(&built.diagnostics, Severity::Warning);
        let objects = built.objects.into_iter().map(StoredObject::from);
        let applied = match &cache {
            Some(_) => self
                .store
                .apply_file_delta(objects, &built.removed, RefPolicy::Lenient),
            None => self.store.replace_file_objects(objects, RefPolicy::Lenient),
        };
        let applied = match applied {
            Ok(changes) => Ok((changes, built.cache)),
            // The store refused the delta: try once more from scratch, comparing everything.
            Err(_) if cache.is_some() => self.full_reload(),
            Err(e) => Err(e.to_string()),
        };
        let changes = match applied {
            Ok((changes, next_cache)) => {
                if changes
                    .created
                    .iter()
                    .chain(changes.deleted.iter())
                    .chain(changes.updated.iter().map(|(_, new)| new))
                    .any(|o| o.kind() == crate::config::types::Kind::Identify)
                {
                    log_identify_overlaps(&self.store.snapshot());
                }
                // A reload applies only without errors: the new cache is complete.
                *self
                    .build_cache
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(next_cache);
                changes
            }
            Err(e) => {
                tracing::error!("reload refused: {e}");
                self.restore_cache(cache);
                return Err(format!("pjsip.conf not reloaded: {e}\n{keeping}"));
            }
        };
        release_free_memory();
        *self
            .last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
        let mut text = if changes.is_empty() {
            format!("pjsip.conf unchanged (generation {})", changes.generation)
        } else {
            format!(
                "Reloaded pjsip.conf: {changes} (generation {})",
                changes.generation
            )
        };
        if warnings > 0 {
            text = format!("{text}\n{} (see the log)", plural(warnings, "warning"));
        }
        tracing::info!("{}", text.lines().next().unwrap_or_default());
        Ok(text)
    }
}

impl Instance {
    /// Puts back the cache of the configuration still running.
    fn restore_cache(&self, cache: Option<BuildCache>) {
        *self
            .build_cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = cache;
    }

    /// Reload without the cache: every section rebuilt, every object compared.
    fn full_reload(&self) -> Result<(ChangeSet, BuildCache), String> {
        let built = load_pjsip_conf(&self.paths.pjsip_conf).map_err(|e| e.to_string())?;
        if built.has_errors() {
            return Err("pjsip.conf changed while it was being reloaded".into());
        }
        let objects = built.objects.into_iter().map(StoredObject::from);
        let changes = self
            .store
            .replace_file_objects(objects, RefPolicy::Lenient)
            .map_err(|e| e.to_string())?;
        Ok((changes, built.cache))
    }
}

/// Warns about identify rules that overlap, naming the one that wins (Asterisk picks one at
/// random; pjsipd is deterministic, and says so).
fn log_identify_overlaps(snapshot: &Snapshot) {
    for overlap in crate::identify::overlaps(snapshot) {
        tracing::warn!("{overlap}");
    }
}

/// Gives memory freed by a (re)load back to the system now rather than at the allocator's
/// leisure: a reload of a large configuration frees tens of megabytes at once.
fn release_free_memory() {
    // SAFETY: mi_collect only walks mimalloc's own heaps; it has no preconditions. When
    // mimalloc is not the global allocator (library tests), it has nothing to collect.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

impl cli::Daemon for Instance {
    fn snapshot(&self) -> Arc<Snapshot> {
        self.store.snapshot()
    }

    fn sip_logger(&self) -> Option<crate::transport::SipLogger> {
        Some(self.sip_logger.clone())
    }

    fn unidentified_requests(&self) -> Vec<cli::UnidentifiedRow> {
        self.unidentified
            .rows(std::time::Instant::now())
            .into_iter()
            .map(|r| cli::UnidentifiedRow {
                ip: r.ip,
                count: r.count,
                age_secs: r.age.as_secs_f64(),
            })
            .collect()
    }

    fn sip_counters(&self) -> Vec<(&'static str, u64)> {
        let Some(t) = self.transports.get() else {
            return Vec::new();
        };
        let d = t.distributor();
        let s = d.stats();
        vec![
            ("Queues:", d.queues() as u64),
            ("Received:", s.received),
            ("Malformed (answered 400/505 when possible):", s.malformed),
            ("Answered statelessly:", s.stateless),
            ("Refused, queue full (503 or dropped):", s.overloaded),
            ("Dropped unanswered:", s.dropped),
            ("Connections open:", t.open_connections() as u64),
            ("Dialogs:", d.dialogs().len() as u64),
            (
                "Channels:",
                self.calls.get().map_or(0, |c| c.registry.len() as u64),
            ),
            (
                "Media legs open (2 ports each):",
                self.calls.get().map_or(0, |c| c.media.open_legs() as u64),
            ),
            (
                "Media legs forwarded by the kernel:",
                self.calls.get().map_or(0, |c| c.media.kernel_legs() as u64),
            ),
        ]
    }

    fn registrar_counters(&self) -> Vec<(String, String)> {
        let mut rows = vec![(
            "Contacts held:".to_string(),
            self.location.len().to_string(),
        )];
        if let Some((path, stats)) = self.contact_db.get() {
            let queued = self.location.queued_changes();
            let done = stats.written() + stats.failed();
            rows.push(("Database:".into(), path.display().to_string()));
            rows.push(("Database writes:".into(), stats.written().to_string()));
            rows.push(("Database batches:".into(), stats.batches().to_string()));
            rows.push(("Database failed:".into(), stats.failed().to_string()));
            rows.push((
                "Database pending:".into(),
                queued.saturating_sub(done).to_string(),
            ));
        }
        rows
    }

    fn live(&self) -> cli::Live {
        let unix_now = unix_now();
        let mut contacts: Vec<cli::ContactRow> = self
            .location
            .all(unix_now)
            .into_iter()
            .map(|e| {
                let b = &e.binding;
                cli::ContactRow {
                    aor: b.aor.clone(),
                    uri: b.uri.clone(),
                    hash: b.hash.0.clone(),
                    dynamic: true,
                    status: e.status.short().to_string(),
                    rtt_ms: e.rtt.map(|d| d.as_secs_f64() * 1000.0),
                    details: vec![
                        ("endpoint".into(), b.endpoint.clone()),
                        ("expiration_time".into(), b.expires_at.to_string()),
                        ("expires_in".into(), b.remaining(unix_now).to_string()),
                        ("user_agent".into(), b.user_agent.clone()),
                        ("path".into(), b.path.join(",")),
                        ("source".into(), format!("{}:{}", b.protocol, b.source)),
                        ("transport".into(), b.transport.clone()),
                        ("via_addr".into(), b.via_addr.clone()),
                        ("via_port".into(), b.via_port.to_string()),
                        ("call_id".into(), b.call_id.clone()),
                        ("registered_uri".into(), b.registered_uri.clone()),
                        ("instance".into(), b.instance.clone().unwrap_or_default()),
                        ("prune_on_boot".into(), yes_no(b.prune_on_boot).into()),
                    ],
                }
            })
            .collect();
        contacts.extend(self.location.static_statuses().into_iter().map(
            |(aor, hash, status, rtt)| cli::ContactRow {
                aor: aor.clone(),
                uri: String::new(),
                hash: hash.0,
                dynamic: false,
                status: status.short().to_string(),
                rtt_ms: rtt.map(|d| d.as_secs_f64() * 1000.0),
                details: Vec::new(),
            },
        ));
        let registrations = self
            .registrations
            .all()
            .into_iter()
            .map(|(name, r)| cli::RegistrationRow {
                name,
                status: r.status.as_str().to_string(),
                next_secs: r.next_attempt_unix.map(|t| t as i64 - unix_now as i64),
                details: vec![
                    ("state (run time)".into(), r.state.as_str().to_string()),
                    (
                        "last_response (run time)".into(),
                        r.last_code.map_or_else(|| "none".into(), |c| c.to_string()),
                    ),
                    (
                        "granted_expiration (run time)".into(),
                        r.granted_expires
                            .map_or_else(|| "none".into(), |e| e.to_string()),
                    ),
                    (
                        "line_token (run time)".into(),
                        r.line.clone().unwrap_or_default(),
                    ),
                ],
            })
            .collect();
        cli::Live {
            contacts,
            registrations,
        }
    }

    fn channels(&self) -> crate::pbx::ChannelListing {
        self.transports
            .get()
            .and_then(|t| t.queues())
            .map(|queues| queues.channels_blocking(std::time::Duration::from_secs(2)))
            .unwrap_or_default()
    }

    fn leg_stats(&self, leg: crate::media::LegId) -> Option<crate::media::LegStats> {
        self.calls.get().and_then(|calls| calls.media.stats(leg))
    }

    fn channel_hangup(&self, name: &str) -> Result<String, String> {
        let (Some(calls), Some(queues)) = (
            self.calls.get(),
            self.transports.get().and_then(|t| t.queues()),
        ) else {
            return Err("No channels are running".into());
        };
        let wait = std::time::Duration::from_secs(2);
        let command = crate::pbx::PbxCommand::Hangup(name.to_string());
        let n: usize = if name == "all" {
            (0..queues.len())
                .filter_map(|q| queues.pbx_command_blocking(q, command.clone(), wait))
                .sum()
        } else {
            let Some(q) = calls.registry.queue_of(name) else {
                return Err(format!("{name} is not a known channel"));
            };
            queues.pbx_command_blocking(q, command, wait).unwrap_or(0)
        };
        Ok(if name == "all" {
            format!("Requested Hangup on {n} channels")
        } else {
            format!("Requested Hangup on channel '{name}'")
        })
    }

    fn tables(&self) -> Arc<crate::core::Tables> {
        self.tables.load_full()
    }

    fn reload_dialplan(&self) -> Result<String, String> {
        self.load_tables()?;
        Ok("Dialplan reloaded.".to_string())
    }

    fn sip_action(&self, action: cli::SipAction) -> Result<String, String> {
        use crate::core::{Command, OutRegCommand, owner};
        let Some(queues) = self.transports.get().and_then(|t| t.queues()) else {
            return Err("SIP is not running".into());
        };
        let wait = std::time::Duration::from_secs(2);
        let n = queues.len();
        let broadcast = |cmd: Command| -> usize {
            (0..n)
                .filter_map(|q| queues.command_blocking(q, cmd.clone(), wait))
                .sum()
        };
        let one = |name: &str, cmd: Command| -> usize {
            queues
                .command_blocking(owner(name, n), cmd, wait)
                .unwrap_or(0)
        };
        let register = matches!(action, cli::SipAction::Register(_));
        match action {
            cli::SipAction::Qualify(endpoint) => {
                let snapshot = self.store.snapshot();
                let Some(e) = snapshot.endpoint(&endpoint) else {
                    return Err(format!("Unable to retrieve endpoint {endpoint}"));
                };
                let aors: Vec<String> = e.aors.iter().map(|a| a.as_str().to_string()).collect();
                for aor in &aors {
                    one(aor, Command::Qualify(vec![aor.clone()]));
                }
                Ok(format!(
                    "Qualifying {} AOR(s) of endpoint {endpoint}",
                    aors.len()
                ))
            }
            cli::SipAction::Register(name) | cli::SipAction::Unregister(name) => {
                let cmd = if register {
                    OutRegCommand::Register(name.clone())
                } else {
                    OutRegCommand::Unregister(name.clone())
                };
                let done = if name == "*all" {
                    broadcast(Command::Registration(cmd))
                } else {
                    one(&name, Command::Registration(cmd))
                };
                if done == 0 {
                    return Err(format!("Unable to retrieve registration {name}"));
                }
                Ok(if register {
                    format!("Re-registering {name}")
                } else {
                    format!("Unregistering {name}")
                })
            }
        }
    }

    fn listeners(&self) -> Vec<cli::Listener> {
        let Some(t) = self.transports.get() else {
            return Vec::new();
        };
        t.listeners()
            .iter()
            .map(|l| cli::Listener {
                transport: l.transport.to_string(),
                protocol: l.protocol.to_string(),
                local: l.local,
                connections: crate::transport::is_reliable(l.protocol)
                    .then(|| t.connections(&l.transport)),
            })
            .collect()
    }

    fn reload(&self) -> Result<String, String> {
        self.reload_serialised()
    }

    fn stop_gracefully(&self) {
        tracing::info!("stop requested from the control socket");
        self.request_stop();
    }

    fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    fn last_reload_secs(&self) -> u64 {
        self.last_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
            .as_secs()
    }
}

/// Reads and builds `pjsip.conf`. `Err` when it is missing or cannot be read as a whole.
pub(crate) fn load_pjsip_conf(path: &Path) -> Result<BuildResult, Error> {
    // The reader's own message for a missing file is generic; a missing main file is the
    // most common start-up mistake, so say plainly what is expected.
    if !path.exists() {
        return Err(Error::MissingPjsipConf {
            path: path.to_path_buf(),
        });
    }
    load_pjsip_conf_with(path, None)
}

/// As [`load_pjsip_conf`], reusing what `cache` knows of unchanged sections.
pub(crate) fn load_pjsip_conf_with(
    path: &Path,
    cache: Option<&BuildCache>,
) -> Result<BuildResult, Error> {
    if !path.exists() {
        return Err(Error::MissingPjsipConf {
            path: path.to_path_buf(),
        });
    }
    build::load_with_cache(&RealFs, path, cache).map_err(Error::Load)
}

/// `Ok(true)` when `extensions.conf` is present and readable, `Ok(false)` when absent.
pub(crate) fn check_extensions_conf(path: &Path) -> Result<bool, Error> {
    let err = |source| Error::Extensions {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::File::open(path) {
        Ok(file) => match file.metadata() {
            Ok(meta) if meta.is_dir() => Err(err(std::io::Error::other("is a directory"))),
            Ok(_) => Ok(true),
            Err(e) => Err(err(e)),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// Logs each problem at the level its severity calls for.
pub(crate) fn log_diagnostics(diagnostics: &[Diagnostic]) {
    for d in diagnostics {
        match d.severity {
            Severity::Error => tracing::error!("{d}"),
            Severity::Warning => tracing::warn!("{d}"),
            Severity::Notice => tracing::info!("{d}"),
        }
    }
}

/// "1 error", "2 errors".
pub(crate) fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// How many problems of `severity`.
pub(crate) fn count(diagnostics: &[Diagnostic], severity: Severity) -> usize {
    diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// Logs every change to the store: a summary at info, each object at debug.
struct LogObserver;

impl Observer for LogObserver {
    fn changed(&self, changes: &ChangeSet, _snapshot: &Snapshot) {
        tracing::info!(
            generation = changes.generation,
            "configuration changed: {changes}"
        );
        // Skip the walk entirely when nobody would see it: a first load can be 100k objects.
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        for o in &changes.created {
            tracing::debug!("created {}", o.key);
        }
        for (_, o) in &changes.updated {
            tracing::debug!("updated {}", o.key);
        }
        for o in &changes.deleted {
            tracing::debug!("deleted {}", o.key);
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// Wall-clock seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How long a load waits for DNS.
const RESOLVE_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// The host names (not IP literals) of registrations' server_uri and outbound_proxy, and
/// of AORs' static contacts and outbound_proxy.
fn host_names(snapshot: &Snapshot) -> Vec<String> {
    use crate::config::types::{Kind, Object};
    use crate::sip::{Host, Uri};
    let mut uris: Vec<&str> = Vec::new();
    for o in snapshot.all(Kind::Registration) {
        if let Object::Registration(r) = &o.object {
            uris.push(&r.server_uri.0);
            uris.push(&r.outbound_proxy.0);
        }
    }
    for o in snapshot.all(Kind::Aor) {
        if let Object::Aor(a) = &o.object {
            uris.extend(a.contact.0.iter().map(|c| c.0.as_str()));
            uris.push(&a.outbound_proxy.0);
        }
    }
    uris.into_iter()
        .filter(|u| !u.is_empty())
        .filter_map(|u| match Uri::parse(u.as_bytes()) {
            Ok(Uri::Sip(sip)) => match sip.host {
                Host::Domain(name) => Some(name),
                _ => None,
            },
            _ => None,
        })
        .collect()
}
