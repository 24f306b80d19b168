//! Load and reload benchmark: a `pjsip.conf` with 10,000 endpoints (each with its aor and
//! auth, built from templates), a few transports and a wizard trunk.
//!
//! Run with `cargo bench --bench config_load`. Prints medians of 5 runs; asserts only
//! correctness (no errors, exactly one change on reload), never timings. Targets and the
//! daemon-level counterpart are described in `testsuite/bench/README.md`.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pjsipd::config::build::{BuildResult, load, load_with_cache};
use pjsipd::config::ini::RealFs;
use pjsipd::config::types::Kind;
use pjsipd::sorcery::{
    ChangeSet, ObjectKey, Observer, RefPolicy, Snapshot, Store, StoredObject, Transaction,
};

/// Endpoints in the generated configuration.
const ENDPOINTS: usize = 10_000;
/// Runs per measurement; the median is printed.
const RUNS: usize = 5;
/// First endpoint number (endpoints are `6000`, `6001`, ...).
const FIRST: usize = 6000;

/// The benchmark configuration; byte for byte what `testsuite/bench/gen_config.py` writes
/// (without `--endpoint-option`). `changed`: the endpoint whose context is overridden.
fn generate(endpoints: usize, changed: Option<usize>) -> String {
    let mut s = String::with_capacity(endpoints * 200 + 4096);
    s.push_str(&format!(
        "; pjsipd benchmark configuration: {endpoints} endpoints with aor and auth, from templates.\n\
         ; Generated; do not edit.\n\n"
    ));
    s.push_str("[global]\ntype=global\n\n");
    for (name, protocol, bind) in [
        ("transport-udp", "udp", "127.0.0.1:0"),
        ("transport-tcp", "tcp", "127.0.0.1:0"),
        ("transport-udp6", "udp", "[::1]:0"),
    ] {
        let _ = write!(
            s,
            "[{name}]\ntype=transport\nprotocol={protocol}\nbind={bind}\n\n"
        );
    }
    s.push_str(
        "[endpoint-tpl](!)\n\
         type=endpoint\n\
         context=from-internal\n\
         disallow=all\n\
         allow=ulaw,alaw,g722\n\
         dtmf_mode=rfc4733\n\
         transport=transport-udp\n\
         identify_by=username,auth_username\n\
         direct_media=no\n\
         rtp_symmetric=yes\n\
         force_rport=yes\n\
         rewrite_contact=yes\n\
         callerid_privacy=allowed_not_screened\n",
    );
    s.push_str(
        "\n[aor-tpl](!)\n\
         type=aor\n\
         max_contacts=1\n\
         qualify_frequency=60\n\n\
         [auth-tpl](!)\n\
         type=auth\n\
         auth_type=userpass\n\
         realm=pjsipd.example.com\n\n",
    );
    for i in 0..endpoints {
        let id = FIRST + i;
        let _ = write!(s, "[{id}](endpoint-tpl)\nauth={id}\naors={id}\n");
        if changed == Some(id) {
            s.push_str("context=changed-by-reload\n");
        }
        let _ = write!(
            s,
            "\n[{id}](aor-tpl)\n\n[{id}](auth-tpl)\nusername={id}\npassword=pw{id}x{}\n\n",
            (id * 7919) % 100_000
        );
    }
    s.push_str(
        "[trunk]\n\
         type=wizard\n\
         transport=transport-udp\n\
         remote_hosts=sip.provider.example.com:5060\n\
         sends_auth=yes\n\
         sends_registrations=yes\n\
         outbound_auth/username=trunkuser\n\
         outbound_auth/password=trunkpass\n\
         endpoint/context=from-trunk\n\
         endpoint/disallow=all\n\
         endpoint/allow=ulaw\n\
         aor/qualify_frequency=30\n",
    );
    s
}

/// What one notification said: created, updated and deleted counts, and the updated keys.
type Notification = (usize, usize, usize, Vec<ObjectKey>);

/// Records every notification.
#[derive(Default)]
struct Counter(Mutex<Vec<Notification>>);

impl Observer for Counter {
    fn changed(&self, changes: &ChangeSet, _snapshot: &Snapshot) {
        let updated = changes
            .updated
            .iter()
            .map(|(_, new)| new.key.clone())
            .collect();
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((
            changes.created.len(),
            changes.updated.len(),
            changes.deleted.len(),
            updated,
        ));
    }
}

fn load_checked(path: &Path) -> BuildResult {
    let r = match load(&RealFs, path) {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let errors: Vec<String> = r
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.is_empty(),
        "benchmark config has errors: {errors:#?}"
    );
    r
}

fn stored(r: BuildResult) -> Vec<StoredObject> {
    r.objects.into_iter().map(StoredObject::from).collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{:.0} µs", ms * 1000.0)
    } else {
        format!("{ms:.1} ms")
    }
}

/// `VmRSS` and `VmHWM` of this process, in MB.
fn memory() -> Option<(f64, f64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `--write-config FILE [--endpoints N] [--change ID]`: writes the configuration instead of
/// benchmarking (to compare with `testsuite/bench/gen_config.py`).
fn write_config_mode() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let Some(file) = value("--write-config") else {
        return false;
    };
    let number = |flag: &str| {
        value(flag).map(|v| match v.parse::<usize>() {
            Ok(n) => n,
            Err(e) => panic!("{flag} {v}: {e}"),
        })
    };
    let text = generate(
        number("--endpoints").unwrap_or(ENDPOINTS),
        number("--change"),
    );
    if let Err(e) = std::fs::write(file, text) {
        panic!("{file}: {e}");
    }
    true
}

fn main() {
    if write_config_mode() {
        return;
    }
    let changed_id = FIRST + ENDPOINTS / 2;
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("temp dir: {e}"),
    };
    let path = dir.path().join("pjsip.conf");
    let original = generate(ENDPOINTS, None);
    let modified = generate(ENDPOINTS, Some(changed_id));
    let write = |text: &str| {
        if let Err(e) = std::fs::write(&path, text) {
            panic!("{}: {e}", path.display());
        }
    };
    write(&original);
    println!(
        "config: {} endpoints, {:.1} MB, {} lines",
        ENDPOINTS,
        original.len() as f64 / 1e6,
        original.lines().count(),
    );
    let before = memory();

    // (a) Load: read + build + apply into an empty store.
    let mut times = Vec::new();
    let mut rss_after_load = None;
    let mut objects = 0;
    for run in 0..RUNS {
        let start = Instant::now();
        let r = load_checked(&path);
        let store = Store::new();
        let tx = stored(r)
            .into_iter()
            .fold(Transaction::new(), |tx, o| tx.put(o));
        let changes = match store.apply(tx, RefPolicy::Lenient) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        times.push(start.elapsed());
        objects = changes.created.len();
        let snap = store.snapshot();
        assert_eq!(snap.count(Kind::Endpoint), ENDPOINTS + 1);
        assert_eq!(snap.count(Kind::Aor), ENDPOINTS + 1);
        assert_eq!(snap.count(Kind::Auth), ENDPOINTS + 1);
        assert_eq!(snap.count(Kind::Registration), 1);
        if run == 0 {
            // Measured while the store is alive.
            rss_after_load = memory();
        }
    }
    println!(
        "load {ENDPOINTS} endpoints: {} (median of {RUNS}; {objects} objects)",
        ms(median(times))
    );

    // (b) Reload with one endpoint changed.
    let mut reload_times = Vec::new();
    let mut replace_times = Vec::new();
    for _ in 0..RUNS {
        let store = Store::new();
        write(&original);
        if let Err(e) = store.replace_file_objects(stored(load_checked(&path)), RefPolicy::Lenient)
        {
            panic!("{e}");
        }
        let counter = Arc::new(Counter::default());
        store.subscribe(counter.clone());
        write(&modified);

        let start = Instant::now();
        let objects = stored(load_checked(&path));
        let replace_start = Instant::now();
        let changes = match store.replace_file_objects(objects, RefPolicy::Lenient) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let end = Instant::now();
        reload_times.push(end - start);
        replace_times.push(end - replace_start);

        assert_eq!(changes.len(), 1, "reload changed {changes}");
        assert_eq!(changes.updated.len(), 1, "reload changed {changes}");
        let key = ObjectKey::new(Kind::Endpoint, changed_id.to_string());
        assert_eq!(changes.updated[0].1.key, key);
        let seen = counter.0.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(
            *seen,
            vec![(0, 1, 0, vec![key])],
            "observer was told {seen:?}"
        );
        assert_eq!(
            store
                .snapshot()
                .endpoint(&changed_id.to_string())
                .map(|e| e.context.clone()),
            Some("changed-by-reload".to_string())
        );
    }
    println!(
        "reload 1 changed endpoint of {ENDPOINTS}: {} (median of {RUNS}; read + build + replace_file_objects)",
        ms(median(reload_times))
    );
    println!(
        "replace_file_objects alone: {} (median of {RUNS}; exactly 1 update notified)",
        ms(median(replace_times))
    );

    // (b') The daemon's reload: incremental, with the cache of the previous load, so only
    // the changed section is rebuilt and only changed objects are compared.
    let mut incremental_times = Vec::new();
    let mut incremental_apply_times = Vec::new();
    for _ in 0..RUNS {
        let store = Store::new();
        write(&original);
        let first = load_checked(&path);
        let cache = first.cache.clone();
        if let Err(e) = store.replace_file_objects(stored(first), RefPolicy::Lenient) {
            panic!("{e}");
        }
        let counter = Arc::new(Counter::default());
        store.subscribe(counter.clone());
        write(&modified);

        let start = Instant::now();
        let built = match load_with_cache(&RealFs, &path, Some(&cache)) {
            Ok(b) => b,
            Err(e) => panic!("{e}"),
        };
        assert!(!built.has_errors());
        // The daemon keeps the new cache for the next reload: move it out so its fate is
        // not part of the apply.
        let mut built = built;
        let next_cache = std::mem::take(&mut built.cache);
        let removed = std::mem::take(&mut built.removed);
        let objects = stored(built);
        let apply_start = Instant::now();
        let changes = match store.apply_file_delta(objects, &removed, RefPolicy::Lenient) {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        };
        let end = Instant::now();
        incremental_times.push(end - start);
        incremental_apply_times.push(end - apply_start);
        drop((next_cache, removed));
        let key = ObjectKey::new(Kind::Endpoint, changed_id.to_string());
        assert_eq!(changes.len(), 1, "reload changed {changes}");
        assert_eq!(changes.updated[0].1.key, key);
        let seen = counter.0.lock().unwrap_or_else(|p| p.into_inner());
        assert_eq!(
            *seen,
            vec![(0, 1, 0, vec![key])],
            "observer was told {seen:?}"
        );
    }
    println!(
        "incremental reload 1 changed endpoint of {ENDPOINTS} (the daemon's reload): {} (median of {RUNS}; read + rebuild changed sections + apply)",
        ms(median(incremental_times))
    );
    println!(
        "incremental apply alone: {} (median of {RUNS}; exactly 1 update notified)",
        ms(median(incremental_apply_times))
    );

    // Reload of an unchanged file: nothing changes, nobody is told.
    let store = Store::new();
    if let Err(e) = store.replace_file_objects(stored(load_checked(&path)), RefPolicy::Lenient) {
        panic!("{e}");
    }
    let counter = Arc::new(Counter::default());
    store.subscribe(counter.clone());
    let mut same_times = Vec::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let changes =
            match store.replace_file_objects(stored(load_checked(&path)), RefPolicy::Lenient) {
                Ok(c) => c,
                Err(e) => panic!("{e}"),
            };
        same_times.push(start.elapsed());
        assert!(changes.is_empty(), "unchanged reload changed {changes}");
    }
    assert!(
        counter
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    );
    println!(
        "reload unchanged file: {} (median of {RUNS}; 0 changes)",
        ms(median(same_times))
    );

    // (c) Memory.
    match (before, rss_after_load) {
        (Some((rss0, _)), Some((rss, hwm))) => println!(
            "memory: VmRSS before load {rss0:.1} MB, after load (store alive) {rss:.1} MB, peak VmHWM {hwm:.1} MB"
        ),
        _ => println!("memory: /proc/self/status not available"),
    }
    if let Some((rss, hwm)) = memory() {
        println!("memory at exit: VmRSS {rss:.1} MB, VmHWM {hwm:.1} MB");
    }
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
