//! The contact database: registered contacts written behind to SQLite, so that they survive
//! a restart, a crash or a `kill -9` of the daemon (Asterisk keeps them in astdb, also SQLite).
//!
//! Why and how:
//! - One file (`<data_dir>/contacts.db`), one row per binding, keyed by AOR and contact
//!   hash. The location service ([`super::Location`]) hands every [`Change`] to a channel;
//!   one thread (`pjsipd-contactdb`) owns the connection and writes them. The SIP path never
//!   waits on the disk.
//! - Durability: a change is durable once the writer has committed it. With the channel idle
//!   that is within a millisecond of the REGISTER's 200 OK. The database runs in WAL mode
//!   with `synchronous=NORMAL`: a committed transaction survives the death of the process
//!   (`kill -9`, a panic, an abort); only a power loss or an OS crash may take back the last
//!   commits, never corrupt the file.
//! - Group commit: the writer blocks for the first change, then takes whatever else is queued
//!   (up to [`MAX_BATCH`]) and commits it all in one transaction, so under load thousands of
//!   REGISTER refreshes cost one commit, not thousands.
//! - Start-up: [`open`] reads back the unexpired bindings with one SELECT, after deleting the
//!   expired ones and those that lived on a connection (`prune_on_boot`). It never fails: a
//!   corrupt file is moved aside (`<name>.corrupt-<unix time>`) and a new one started; a file
//!   that cannot be created leaves the daemon on an in-memory database (contacts then do not
//!   persist). Each such problem is returned for the daemon to log.
//!
//! Time comes in as Unix seconds ([`open`]'s `unix_now`); nothing here reads the clock.

use std::fmt::Write as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use super::{Binding, Change, ContactHash};

/// The schema version this code writes and reads (`meta.version`).
pub const SCHEMA_VERSION: i64 = 1;

/// Most changes committed in one transaction.
pub const MAX_BATCH: usize = 4096;

/// How long the writer lets changes gather after a batch of more than one.
const GATHER: std::time::Duration = std::time::Duration::from_millis(2);

/// How long a statement waits for a lock held by another connection.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Bad rows described one by one in [`Opened::problems`]; the rest are counted.
const MAX_ROW_PROBLEMS: usize = 10;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS contacts (
    aor TEXT NOT NULL,
    hash TEXT NOT NULL,
    uri TEXT NOT NULL,
    registered_uri TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    path TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    via_addr TEXT NOT NULL,
    via_port INTEGER NOT NULL,
    call_id TEXT NOT NULL,
    cseq INTEGER NOT NULL,
    instance TEXT,
    reg_id INTEGER,
    source TEXT NOT NULL,
    transport TEXT NOT NULL,
    protocol TEXT NOT NULL,
    prune_on_boot INTEGER NOT NULL,
    PRIMARY KEY (aor, hash)
);
CREATE INDEX IF NOT EXISTS contacts_expires_at ON contacts (expires_at);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 1);
";

const PUT_SQL: &str = "INSERT OR REPLACE INTO contacts (aor, hash, uri, registered_uri, \
    expires_at, path, user_agent, endpoint, via_addr, via_port, call_id, cseq, instance, \
    reg_id, source, transport, protocol, prune_on_boot) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

const DELETE_SQL: &str = "DELETE FROM contacts WHERE aor = ?1 AND hash = ?2";

const SELECT_SQL: &str = "SELECT rowid, aor, hash, uri, registered_uri, expires_at, path, \
    user_agent, endpoint, via_addr, via_port, call_id, cseq, instance, reg_id, source, \
    transport, protocol, prune_on_boot FROM contacts";

/// The database file for a data directory.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("contacts.db")
}

/// Counters shared with the CLI.
#[derive(Debug, Default)]
pub struct PersistStats {
    written: AtomicU64,
    batches: AtomicU64,
    failed: AtomicU64,
}

impl PersistStats {
    /// Changes committed.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Transactions committed.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Acquire)
    }

    /// Changes lost to errors.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }
}

/// What can go wrong with the contact database.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// The directory of the file could not be created.
    #[error("cannot create directory {} for the contact database: {source}", .dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// SQLite could not open or use the file.
    #[error("contact database {}: {source}", .path.display())]
    Sqlite {
        /// The file.
        path: PathBuf,
        /// Why.
        source: rusqlite::Error,
    },
    /// The file is not a database or fails its integrity check.
    #[error("contact database {} is corrupt ({reason})", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        reason: String,
    },
    /// The file was written by a newer pjsipd.
    #[error(
        "contact database {} has schema version {found}, newer than this pjsipd knows ({SCHEMA_VERSION})",
        .path.display()
    )]
    NewerVersion {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
    },
    /// A bad file could not be moved aside.
    #[error("cannot move {} to {}: {source}", .from.display(), .to.display())]
    MoveAside {
        /// The file.
        from: PathBuf,
        /// Where it was to go.
        to: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// One row could not be decoded.
    #[error("contact database {}: skipped and removed an undecodable row (rowid {rowid}{key}): {reason}", .path.display())]
    BadRow {
        /// The file.
        path: PathBuf,
        /// The row's SQLite rowid.
        rowid: i64,
        /// `, AOR 'x', hash 'y'` when readable.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The writer thread could not be started.
    #[error("cannot start the contact database writer thread: {source}")]
    Spawn {
        /// Why.
        source: io::Error,
    },
}

impl PersistError {
    fn sqlite(path: &Path, source: rusqlite::Error) -> Self {
        if is_corruption(&source) {
            Self::Corrupt {
                path: path.to_path_buf(),
                reason: source.to_string(),
            }
        } else {
            Self::Sqlite {
                path: path.to_path_buf(),
                source,
            }
        }
    }
}

/// True for the errors that mean the file's content is bad (rather than the disk or the
/// permissions).
fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// The database as opened by [`open`].
pub struct Opened {
    /// Unexpired bindings read back (expired ones and `prune_on_boot` ones are deleted from
    /// the file, not returned).
    pub bindings: Vec<Binding>,
    /// Human-readable problems met while opening, for the daemon to log as errors.
    pub problems: Vec<String>,
    /// Where to send changes (give it to [`super::Location::persist_to`]).
    pub sink: Sender<Change>,
    /// The writer's counters.
    pub stats: Arc<PersistStats>,
    /// The writer thread.
    pub writer: Writer,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("bindings", &self.bindings.len())
            .field("problems", &self.problems)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// Handle to the writer thread.
///
/// Dropping it detaches the thread, which then ends once every [`Sender`] of its channel is
/// gone, after committing what is left.
pub struct Writer {
    handle: Option<JoinHandle<()>>,
    /// Our own sender, to wake the thread when stopping.
    wake: Option<Sender<Change>>,
    stop: Arc<AtomicBool>,
    done: Receiver<()>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("running", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

impl Writer {
    /// Waits (at most `timeout`) until every change sent so far, by any sender, is committed,
    /// then ends the thread and closes the database. Changes sent afterwards are refused (the
    /// send fails). True when the thread ended in time; false on timeout (the thread is left
    /// to finish on its own) or when there is no thread. Changes that failed to commit are
    /// counted in [`PersistStats::failed`], not here.
    pub fn flush_and_stop(mut self, timeout: Duration) -> bool {
        let Some(handle) = self.handle.take() else {
            return false;
        };
        // The flag first, then the marker: once the thread sees either, everything queued
        // before this call is ahead of it in the channel.
        self.stop.store(true, Ordering::Release);
        if let Some(wake) = self.wake.take() {
            let _ = wake.send(wake_marker());
        }
        match self.done.recv_timeout(timeout) {
            Ok(()) => handle.join().is_ok(),
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(
                    "contact database writer did not finish within {timeout:?}; changes may be lost"
                );
                false
            }
            Err(RecvTimeoutError::Disconnected) => {
                // The thread died without reporting (a panic).
                let _ = handle.join();
                false
            }
        }
    }
}

/// A no-op change that wakes the writer when stopping: no binding has an empty AOR.
fn wake_marker() -> Change {
    Change::Delete {
        aor: String::new(),
        hash: ContactHash(String::new()),
    }
}

fn is_wake_marker(c: &Change) -> bool {
    matches!(c, Change::Delete { aor, hash } if aor.is_empty() && hash.0.is_empty())
}

/// Opens (creating if missing) the database at `path`, reads back the bindings unexpired at
/// `unix_now`, starts the writer thread. Never fails: problems are reported in
/// [`Opened::problems`], and the daemon then works on a fresh or in-memory database.
pub fn open(path: &Path, unix_now: u64) -> Opened {
    let mut problems = Vec::new();
    let (conn, bindings) = match open_file(path, unix_now, &mut problems) {
        Ok(x) => (Some(x.0), x.1),
        Err(e @ (PersistError::Corrupt { .. } | PersistError::NewerVersion { .. })) => {
            let tag = if matches!(e, PersistError::NewerVersion { .. }) {
                "newer"
            } else {
                "corrupt"
            };
            match move_aside(path, tag, unix_now) {
                Ok(to) => {
                    problems.push(format!("{e}; moved to {} and starting empty", to.display()));
                    match open_file(path, unix_now, &mut problems) {
                        Ok(x) => (Some(x.0), x.1),
                        Err(e) => (in_memory(path, &e.to_string(), &mut problems), Vec::new()),
                    }
                }
                Err(m) => (
                    in_memory(path, &format!("{e}; {m}"), &mut problems),
                    Vec::new(),
                ),
            }
        }
        Err(e) => (in_memory(path, &e.to_string(), &mut problems), Vec::new()),
    };
    let stats = Arc::new(PersistStats::default());
    let (sink, rx) = mpsc::channel();
    let (done_tx, done) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let label = path.display().to_string();
    let spawned = std::thread::Builder::new()
        .name("pjsipd-contactdb".into())
        .spawn({
            let stats = Arc::clone(&stats);
            let stop = Arc::clone(&stop);
            move || {
                run(conn, &rx, &stats, &stop, &label);
                let _ = done_tx.send(());
            }
        });
    let handle = match spawned {
        Ok(h) => Some(h),
        Err(source) => {
            problems.push(format!(
                "{}; contacts will not be saved",
                PersistError::Spawn { source }
            ));
            None
        }
    };
    Opened {
        bindings,
        problems,
        sink: sink.clone(),
        stats,
        writer: Writer {
            handle,
            wake: Some(sink),
            stop,
            done,
        },
    }
}

/// The fallback when the file cannot be used: an in-memory database.
fn in_memory(path: &Path, why: &str, problems: &mut Vec<String>) -> Option<Connection> {
    match Connection::open_in_memory().and_then(|c| c.execute_batch(SCHEMA).map(|()| c)) {
        Ok(c) => {
            problems.push(format!(
                "{why}; using an in-memory contact database instead of {}: registrations will \
                 not survive a restart",
                path.display()
            ));
            Some(c)
        }
        Err(e) => {
            problems.push(format!(
                "{why}; an in-memory contact database failed too ({e}): registrations will \
                 not be saved"
            ));
            None
        }
    }
}

/// Renames the file and its `-wal`/`-shm` to `<name>.<tag>-<unix_now>` (with `.N` added
/// when that exists); returns the new name of the main file.
fn move_aside(path: &Path, tag: &str, unix_now: u64) -> Result<PathBuf, PersistError> {
    let base = with_suffix(path, &format!(".{tag}-{unix_now}"));
    let mut to = base.clone();
    let mut n = 1u32;
    while to.exists() && n < 1000 {
        to = with_suffix(&base, &format!(".{n}"));
        n += 1;
    }
    std::fs::rename(path, &to).map_err(|source| PersistError::MoveAside {
        from: path.to_path_buf(),
        to: to.clone(),
        source,
    })?;
    for side in ["-wal", "-shm"] {
        let from = with_suffix(path, side);
        if from.exists() {
            let dest = with_suffix(&to, side);
            if let Err(e) = std::fs::rename(&from, &dest) {
                // A stale WAL next to a new file is ignored by SQLite (salt mismatch), but
                // remove it rather than leave it.
                tracing::warn!("cannot move {} to {}: {e}", from.display(), dest.display());
                let _ = std::fs::remove_file(&from);
            }
        }
    }
    Ok(to)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Opens the file, checks it, prunes it and reads it back.
fn open_file(
    path: &Path,
    unix_now: u64,
    problems: &mut Vec<String>,
) -> Result<(Connection, Vec<Binding>), PersistError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| PersistError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
    }
    let err = |e| PersistError::sqlite(path, e);
    let mut conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // The first statement that reads the file: "file is not a database" shows here.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            "contact database {}: journal_mode is {mode}, not WAL",
            path.display()
        );
    }
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(err)?;
    quick_check(&conn, path)?;
    let version = {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        tx.execute_batch(SCHEMA).map_err(err)?;
        let version: Option<i64> = tx
            .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| match e {
                e @ rusqlite::Error::FromSqlConversionFailure(..)
                | e @ rusqlite::Error::InvalidColumnType(..) => PersistError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("bad schema version: {e}"),
                },
                e => err(e),
            })?;
        match version {
            Some(SCHEMA_VERSION) => {}
            Some(found) if found > SCHEMA_VERSION => {
                return Err(PersistError::NewerVersion {
                    path: path.to_path_buf(),
                    found,
                });
            }
            other => {
                return Err(PersistError::Corrupt {
                    path: path.to_path_buf(),
                    reason: format!("bad schema version {other:?}"),
                });
            }
        }
        // Expired bindings, and those reachable only over a connection that is gone.
        tx.execute(
            "DELETE FROM contacts WHERE expires_at <= ?1",
            [to_i64(unix_now)],
        )
        .map_err(err)?;
        tx.execute("DELETE FROM contacts WHERE prune_on_boot <> 0", [])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        SCHEMA_VERSION
    };
    tracing::debug!(
        "contact database {} opened (schema version {version})",
        path.display()
    );
    let bindings = read_all(&conn, path, problems)?;
    Ok((conn, bindings))
}

/// `PRAGMA quick_check`: "ok", or the problems found.
fn quick_check(conn: &Connection, path: &Path) -> Result<(), PersistError> {
    let mut found = Vec::new();
    conn.pragma_query(None, "quick_check", |r| {
        let s: String = r.get(0)?;
        if found.len() < 3 {
            found.push(s);
        }
        Ok(())
    })
    .map_err(|e| PersistError::sqlite(path, e))?;
    if found.len() == 1 && found[0] == "ok" {
        Ok(())
    } else {
        Err(PersistError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("quick_check: {}", found.join("; ")),
        })
    }
}

/// Reads every row with one SELECT. A row whose values cannot be decoded is skipped,
/// reported and deleted; an error from SQLite itself (a bad page) is fatal.
fn read_all(
    conn: &Connection,
    path: &Path,
    problems: &mut Vec<String>,
) -> Result<Vec<Binding>, PersistError> {
    let err = |e| PersistError::sqlite(path, e);
    let count: i64 = conn
        .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))
        .map_err(err)?;
    let mut out = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    let mut bad: Vec<i64> = Vec::new();
    {
        let mut stmt = conn.prepare(SELECT_SQL).map_err(err)?;
        let mut rows = stmt.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            match decode(row) {
                Ok(b) => out.push(b),
                Err(reason) => {
                    let rowid = row.get_ref(0).and_then(|v| Ok(v.as_i64()?)).unwrap_or(-1);
                    if bad.len() < MAX_ROW_PROBLEMS {
                        let mut key = String::new();
                        if let (Ok(Ok(aor)), Ok(Ok(hash))) = (
                            row.get_ref(1).map(|v| v.as_str()),
                            row.get_ref(2).map(|v| v.as_str()),
                        ) {
                            let _ = write!(key, ", AOR '{aor}', hash '{hash}'");
                        }
                        problems.push(
                            PersistError::BadRow {
                                path: path.to_path_buf(),
                                rowid,
                                key,
                                reason,
                            }
                            .to_string(),
                        );
                    }
                    bad.push(rowid);
                }
            }
        }
    }
    if bad.len() > MAX_ROW_PROBLEMS {
        problems.push(format!(
            "contact database {}: {} more undecodable rows skipped and removed",
            path.display(),
            bad.len() - MAX_ROW_PROBLEMS
        ));
    }
    if !bad.is_empty() {
        let tx = conn.unchecked_transaction().map_err(err)?;
        {
            let mut del = tx
                .prepare("DELETE FROM contacts WHERE rowid = ?1")
                .map_err(err)?;
            for rowid in &bad {
                del.execute([rowid]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
    }
    Ok(out)
}

/// One row (columns as in [`SELECT_SQL`]) into a binding; the error says what is wrong.
fn decode(row: &rusqlite::Row<'_>) -> Result<Binding, String> {
    let text = |i: usize, name: &str| -> Result<String, String> {
        match row.get_ref(i) {
            Ok(ValueRef::Text(t)) => std::str::from_utf8(t)
                .map(str::to_owned)
                .map_err(|_| format!("{name} is not UTF-8")),
            Ok(other) => Err(format!("{name} is {:?}, not text", other.data_type())),
            Err(e) => Err(format!("{name}: {e}")),
        }
    };
    let opt_text = |i: usize, name: &str| -> Result<Option<String>, String> {
        match row.get_ref(i) {
            Ok(ValueRef::Null) => Ok(None),
            _ => text(i, name).map(Some),
        }
    };
    let int = |i: usize, name: &str| -> Result<i64, String> {
        match row.get_ref(i) {
            Ok(ValueRef::Integer(n)) => Ok(n),
            Ok(other) => Err(format!("{name} is {:?}, not an integer", other.data_type())),
            Err(e) => Err(format!("{name}: {e}")),
        }
    };
    let ranged = |i: usize, name: &str| -> Result<u64, String> {
        let n = int(i, name)?;
        u64::try_from(n).map_err(|_| format!("{name} {n} is out of range"))
    };
    let source_text = text(15, "source")?;
    let source: SocketAddr = source_text
        .parse()
        .map_err(|_| format!("unparsable source '{source_text}'"))?;
    let path_text = text(6, "path")?;
    let path = if path_text.is_empty() {
        Vec::new()
    } else {
        path_text.split('\n').map(str::to_owned).collect()
    };
    let reg_id = match row.get_ref(14) {
        Ok(ValueRef::Null) => None,
        _ => {
            let n = int(14, "reg_id")?;
            Some(u32::try_from(n).map_err(|_| format!("reg_id {n} is out of range"))?)
        }
    };
    let via_port = ranged(10, "via_port")?;
    let cseq = ranged(12, "cseq")?;
    Ok(Binding {
        aor: text(1, "aor")?,
        hash: ContactHash(text(2, "hash")?),
        uri: text(3, "uri")?,
        registered_uri: text(4, "registered_uri")?,
        expires_at: ranged(5, "expires_at")?,
        path,
        user_agent: text(7, "user_agent")?,
        endpoint: text(8, "endpoint")?,
        via_addr: text(9, "via_addr")?,
        via_port: u16::try_from(via_port)
            .map_err(|_| format!("via_port {via_port} is out of range"))?,
        call_id: text(11, "call_id")?,
        cseq: u32::try_from(cseq).map_err(|_| format!("cseq {cseq} is out of range"))?,
        instance: opt_text(13, "instance")?,
        reg_id,
        source,
        transport: text(16, "transport")?,
        protocol: text(17, "protocol")?,
        connection: None,
        prune_on_boot: int(18, "prune_on_boot")? != 0,
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The writer thread: group commits until stopped or every sender is gone.
fn run(
    mut conn: Option<Connection>,
    rx: &Receiver<Change>,
    stats: &PersistStats,
    stop: &AtomicBool,
    label: &str,
) {
    let mut batch: Vec<Change> = Vec::with_capacity(64);
    // Ends when every sender is gone and nothing is left, or when stopped.
    while let Ok(first) = rx.recv() {
        batch.push(first);
        let mut disconnected = false;
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    disconnected = true;
                    break;
                }
            }
        }
        let busy = batch.len() > 1;
        commit(conn.as_mut(), &mut batch, stats, label);
        if disconnected {
            break;
        }
        if busy && !stop.load(Ordering::Acquire) {
            // Under load, let the next batch gather instead of being woken for every
            // REGISTER (a futex wake and a context switch each, on the queues' cores);
            // an idle change still commits at once.
            std::thread::sleep(GATHER);
        }
        if stop.load(Ordering::Acquire) {
            // Everything sent before the stop is ahead of the marker, or already taken if
            // the queue runs empty first.
            loop {
                match rx.try_recv() {
                    Ok(c) if is_wake_marker(&c) => break,
                    Ok(c) => {
                        batch.push(c);
                        if batch.len() >= MAX_BATCH {
                            commit(conn.as_mut(), &mut batch, stats, label);
                        }
                    }
                    Err(_) => break,
                }
            }
            commit(conn.as_mut(), &mut batch, stats, label);
            break;
        }
    }
    // Close (and checkpoint) before reporting done.
    if let Some(c) = conn.take()
        && let Err((_, e)) = c.close()
    {
        tracing::warn!("contact database {label}: close failed: {e}");
    }
}

/// Commits `batch` in one transaction (emptying it). When that fails, tries each change on
/// its own so that one bad change does not take the others with it.
fn commit(
    conn: Option<&mut Connection>,
    batch: &mut Vec<Change>,
    stats: &PersistStats,
    label: &str,
) {
    batch.retain(|c| !is_wake_marker(c));
    if batch.is_empty() {
        return;
    }
    let n = batch.len() as u64;
    let Some(conn) = conn else {
        stats.failed.fetch_add(n, Ordering::AcqRel);
        batch.clear();
        return;
    };
    match apply(conn, batch) {
        Ok(()) => {
            stats.written.fetch_add(n, Ordering::AcqRel);
            stats.batches.fetch_add(1, Ordering::AcqRel);
        }
        Err(e) if batch.len() == 1 => {
            tracing::error!("contact database {label}: cannot save a change: {e}");
            stats.failed.fetch_add(1, Ordering::AcqRel);
        }
        Err(e) => {
            tracing::error!(
                "contact database {label}: cannot save {n} changes at once ({e}); retrying one by one"
            );
            let mut lost = 0u64;
            let mut last = None;
            for c in batch.iter() {
                match apply(conn, std::slice::from_ref(c)) {
                    Ok(()) => {
                        stats.written.fetch_add(1, Ordering::AcqRel);
                        stats.batches.fetch_add(1, Ordering::AcqRel);
                    }
                    Err(e) => {
                        lost += 1;
                        last = Some(e);
                    }
                }
            }
            if let Some(e) = last {
                stats.failed.fetch_add(lost, Ordering::AcqRel);
                tracing::error!("contact database {label}: {lost} changes lost, the last to: {e}");
            }
        }
    }
    batch.clear();
}

/// Applies changes in one transaction.
fn apply(conn: &mut Connection, changes: &[Change]) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut put = tx.prepare_cached(PUT_SQL)?;
        let mut delete = tx.prepare_cached(DELETE_SQL)?;
        let mut path = String::new();
        let mut source = String::new();
        for c in changes {
            match c {
                Change::Put(b) => {
                    path.clear();
                    for (i, p) in b.path.iter().enumerate() {
                        if i > 0 {
                            path.push('\n');
                        }
                        path.push_str(p);
                    }
                    source.clear();
                    let _ = write!(source, "{}", b.source);
                    put.execute(rusqlite::params![
                        b.aor,
                        b.hash.0,
                        b.uri,
                        b.registered_uri,
                        to_i64(b.expires_at),
                        path,
                        b.user_agent,
                        b.endpoint,
                        b.via_addr,
                        b.via_port,
                        b.call_id,
                        b.cseq,
                        b.instance,
                        b.reg_id,
                        source,
                        b.transport,
                        b.protocol,
                        b.prune_on_boot,
                    ])?;
                }
                Change::Delete { aor, hash } => {
                    delete.execute(rusqlite::params![aor, hash.0])?;
                }
            }
        }
    }
    tx.commit()
}

#[cfg(test)]
#[path = "persist_tests.rs"]
mod tests;
