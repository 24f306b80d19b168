use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::*;
use crate::transport::ConnectionId;

const NOW: u64 = 1_764_633_600;
const FLUSH: Duration = Duration::from_secs(30);

use crate::location::tests::binding;

fn numbered(i: usize, expires_at: u64) -> Binding {
    let mut b = binding(
        &format!("aor{}", i % 1000),
        &format!("sip:user{i}@10.0.{}.{}:5060", i / 250 % 250, i % 250),
        expires_at,
    );
    b.cseq = u32::try_from(i).unwrap();
    b
}

fn put(b: &Binding) -> Change {
    Change::Put(Box::new(b.clone()))
}

/// Opens, expecting no problem.
fn open_clean(path: &Path, now: u64) -> Opened {
    let o = open(path, now);
    assert!(o.problems.is_empty(), "{:?}", o.problems);
    o
}

/// Sends, then stops the writer and checks that all were written.
fn write_all(path: &Path, changes: impl IntoIterator<Item = Change>) -> Arc<PersistStats> {
    let o = open_clean(path, NOW);
    let mut n = 0;
    for c in changes {
        o.sink.send(c).unwrap();
        n += 1;
    }
    drop(o.sink);
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), n);
    assert_eq!(o.stats.failed(), 0);
    o.stats
}

fn by_key(bindings: Vec<Binding>) -> HashMap<(String, String), Binding> {
    bindings
        .into_iter()
        .map(|b| ((b.aor.clone(), b.hash.0.clone()), b))
        .collect()
}

/// Waits (at most 5 s) until `n` changes are committed.
fn wait_written(stats: &PersistStats, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats.written() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} written",
            stats.written()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn default_path_is_contacts_db() {
    assert_eq!(
        default_path(Path::new("/var/lib/pjsipd")),
        PathBuf::from("/var/lib/pjsipd/contacts.db")
    );
}

#[test]
fn round_trip_keeps_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let full = Binding {
        aor: "alice".into(),
        uri: "sip:alice@192.0.2.7:40312;transport=tcp;ob".into(),
        registered_uri: "sip:alice@10.1.1.5:5060;transport=tcp;ob".into(),
        hash: ContactHash::of("sip:alice@192.0.2.7:40312;transport=tcp;ob"),
        expires_at: NOW + 3600,
        path: vec![
            "<sip:edge1.example.com;lr;ob>".into(),
            "<sip:edge2.example.com;lr>, \"x\"".into(),
        ],
        user_agent: "Zoiper rv2.10 «ünïcode»".into(),
        endpoint: "alice-ep".into(),
        via_addr: "10.1.1.5".into(),
        via_port: 65535,
        call_id: "a84b4c76e66710@pc33".into(),
        cseq: u32::MAX,
        instance: Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into()),
        reg_id: Some(u32::MAX),
        source: "[2001:db8::7]:40312".parse().unwrap(),
        transport: "transport-tcp".into(),
        protocol: "tcp".into(),
        connection: Some(ConnectionId(42)),
        prune_on_boot: false,
    };
    let minimal = binding("bob", "sip:bob@198.51.100.1", NOW + 60);
    write_all(&path, [put(&full), put(&minimal)]);

    let o = open_clean(&path, NOW);
    let got = by_key(o.bindings);
    assert_eq!(got.len(), 2);
    let mut want = full.clone();
    want.connection = None; // not stored
    assert_eq!(got[&("alice".into(), full.hash.0.clone())], want);
    assert_eq!(got[&("bob".into(), minimal.hash.0.clone())], minimal);
    assert!(o.writer.flush_and_stop(FLUSH));
}

#[test]
fn put_replaces_and_delete_removes() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let a = binding("alice", "sip:a@10.0.0.1", NOW + 100);
    let mut a2 = a.clone();
    a2.expires_at = NOW + 200;
    a2.cseq = 2;
    let b = binding("alice", "sip:b@10.0.0.2", NOW + 100);
    let c = binding("carol", "sip:c@10.0.0.3", NOW + 100);
    write_all(
        &path,
        [
            put(&a),
            put(&b),
            put(&c),
            put(&a2),
            Change::Delete {
                aor: "alice".into(),
                hash: b.hash.clone(),
            },
            // Deleting what is not there is harmless.
            Change::Delete {
                aor: "nobody".into(),
                hash: ContactHash::of("sip:x"),
            },
        ],
    );
    let o = open_clean(&path, NOW);
    let got = by_key(o.bindings);
    assert_eq!(got.len(), 2);
    assert_eq!(got[&("alice".into(), a.hash.0.clone())], a2);
    assert_eq!(got[&("carol".into(), c.hash.0.clone())], c);
}

#[test]
fn expired_and_prune_on_boot_rows_are_dropped_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let live = binding("a", "sip:live@10.0.0.1", NOW + 10);
    let expired = binding("a", "sip:old@10.0.0.2", NOW);
    let mut on_conn = binding("a", "sip:tcp@10.0.0.3;transport=tcp", NOW + 10);
    on_conn.prune_on_boot = true;
    write_all(&path, [put(&live), put(&expired), put(&on_conn)]);

    let o = open_clean(&path, NOW);
    assert_eq!(o.bindings, vec![live.clone()]);
    assert!(o.writer.flush_and_stop(FLUSH));
    // They were deleted from the file, not just filtered: an earlier clock does not bring
    // them back.
    let o = open_clean(&path, NOW - 1000);
    assert_eq!(o.bindings, vec![live]);
}

#[test]
fn group_commit_batches_many_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let stats = write_all(&path, (0..10_000).map(|i| put(&numbered(i, NOW + 600))));
    assert!(
        stats.batches() < 10_000,
        "{} batches for 10000 changes",
        stats.batches()
    );
    let o = open_clean(&path, NOW);
    assert_eq!(o.bindings.len(), 10_000);
    let got = by_key(o.bindings);
    for i in [0, 1, 4999, 9999] {
        let b = numbered(i, NOW + 600);
        assert_eq!(got[&(b.aor.clone(), b.hash.0.clone())], b);
    }
}

#[test]
fn idle_change_commits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let o = open_clean(&default_path(dir.path()), NOW);
    for i in 0..5 {
        let t = Instant::now();
        o.sink.send(put(&numbered(i, NOW + 60))).unwrap();
        wait_written(&o.stats, i as u64 + 1);
        eprintln!("change {i} committed after {:?}", t.elapsed());
    }
    assert_eq!(o.stats.batches(), 5);
}

#[test]
fn flush_and_stop_waits_for_changes_of_senders_still_alive() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let o = open_clean(&path, NOW);
    // Another holder of the channel (the location service) that outlives the writer.
    let other = o.sink.clone();
    for i in 0..3000 {
        other.send(put(&numbered(i, NOW + 60))).unwrap();
    }
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), 3000);
    // The thread is gone: later changes are refused, not silently lost.
    assert!(other.send(put(&numbered(9999, NOW + 60))).is_err());
    assert!(o.sink.send(put(&numbered(9998, NOW + 60))).is_err());
    drop(other);
    assert_eq!(open_clean(&path, NOW).bindings.len(), 3000);
}

#[test]
fn writer_ends_by_itself_when_every_sender_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let o = open_clean(&path, NOW);
    for i in 0..100 {
        o.sink.send(put(&numbered(i, NOW + 60))).unwrap();
    }
    let stats = Arc::clone(&o.stats);
    drop(o.sink);
    drop(o.writer); // detaches; its own sender goes with it
    wait_written(&stats, 100);
    assert_eq!(open_clean(&path, NOW).bindings.len(), 100);
}

#[test]
fn killed_without_flush_keeps_committed_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    write_all(&path, (0..50).map(|i| put(&numbered(i, NOW + 600))));
    let o = open_clean(&path, NOW);
    assert_eq!(o.bindings.len(), 50);
    for i in 50..500 {
        o.sink.send(put(&numbered(i, NOW + 600))).unwrap();
    }
    o.sink
        .send(Change::Delete {
            aor: numbered(0, 0).aor,
            hash: numbered(0, 0).hash,
        })
        .unwrap();
    wait_written(&o.stats, 451);
    // kill -9: no flush, no close, no checkpoint; the old connection stays open.
    std::mem::forget(o.writer);
    std::mem::forget(o.sink);
    let again = open_clean(&path, NOW);
    assert_eq!(again.bindings.len(), 499);
    let got = by_key(again.bindings);
    let gone = numbered(0, 0);
    assert!(!got.contains_key(&(gone.aor, gone.hash.0)));
}

#[test]
fn truncated_wal_loses_no_earlier_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    // Set A: committed and checkpointed (clean stop).
    let a: Vec<Binding> = (0..200).map(|i| numbered(i, NOW + 600)).collect();
    write_all(&path, a.iter().map(put));
    // Set B: committed to the WAL only, then the process dies.
    let b: Vec<Binding> = (200..400).map(|i| numbered(i, NOW + 600)).collect();
    let o = open_clean(&path, NOW);
    // In four transactions.
    for (i, chunk) in b.chunks(50).enumerate() {
        for x in chunk {
            o.sink.send(put(x)).unwrap();
        }
        wait_written(&o.stats, 50 * (i as u64 + 1));
    }
    assert!(o.stats.batches() >= 4);
    std::mem::forget(o.writer);
    std::mem::forget(o.sink);
    let wal = with_suffix(&path, "-wal");
    let wal_len = std::fs::metadata(&wal).unwrap().len();
    assert!(wal_len > 32, "no WAL to damage ({wal_len} bytes)");

    // Copies of the files as a crash in the middle of a WAL write would leave them.
    type Damage = Box<dyn Fn(&Path)>;
    let damages: [(&str, Damage); 3] = [
        (
            "cut mid-frame",
            Box::new(move |w: &Path| {
                let f = std::fs::OpenOptions::new().write(true).open(w).unwrap();
                f.set_len(wal_len - 1000).unwrap();
            }),
        ),
        (
            "header only",
            Box::new(|w: &Path| {
                let f = std::fs::OpenOptions::new().write(true).open(w).unwrap();
                f.set_len(20).unwrap();
            }),
        ),
        (
            "garbage appended",
            Box::new(|w: &Path| {
                use std::io::Write;
                let mut f = std::fs::OpenOptions::new().append(true).open(w).unwrap();
                f.write_all(&[0x5a; 5000]).unwrap();
            }),
        ),
    ];
    let all: HashMap<_, _> = by_key(a.iter().chain(&b).cloned().collect());
    for (what, damage) in damages {
        let copy_dir = tempfile::tempdir().unwrap();
        let copy = default_path(copy_dir.path());
        std::fs::copy(&path, &copy).unwrap();
        std::fs::copy(&wal, with_suffix(&copy, "-wal")).unwrap();
        damage(&with_suffix(&copy, "-wal"));
        let o = open(&copy, NOW);
        assert!(o.problems.is_empty(), "{what}: {:?}", o.problems);
        let got = by_key(o.bindings);
        for x in &a {
            assert_eq!(
                got.get(&(x.aor.clone(), x.hash.0.clone())),
                Some(x),
                "{what}"
            );
        }
        // Whatever survives of B is exactly what was written.
        for (k, v) in &got {
            assert_eq!(all.get(k), Some(v), "{what}");
        }
        let survived = got.len() - a.len();
        eprintln!("{what}: {survived} of {} of set B survived", b.len());
        if what == "cut mid-frame" {
            // Only the last transaction is torn.
            assert!(survived >= 150, "{what}: {survived}");
        }
        // And the database still works.
        o.sink.send(put(&numbered(10_000, NOW + 600))).unwrap();
        drop(o.sink);
        assert!(o.writer.flush_and_stop(FLUSH), "{what}");
        assert_eq!(o.stats.written(), 1, "{what}");
    }
}

#[test]
fn garbage_file_is_moved_aside_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let mut junk = vec![0u8; 64 * 1024];
    getrandom::fill(&mut junk).unwrap();
    std::fs::write(&path, &junk).unwrap();
    std::fs::write(with_suffix(&path, "-wal"), b"not a wal either").unwrap();

    let o = open(&path, NOW);
    assert!(o.bindings.is_empty());
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    let aside = with_suffix(&path, &format!(".corrupt-{NOW}"));
    let p = &o.problems[0];
    assert!(p.contains(&path.display().to_string()), "{p}");
    assert!(p.contains("corrupt"), "{p}");
    assert!(p.contains(&aside.display().to_string()), "{p}");
    assert_eq!(std::fs::read(&aside).unwrap(), junk);
    // (SQLite itself removes the stray WAL when the failed connection closes.)
    // A working, empty database in its place.
    let b = binding("alice", "sip:a@10.0.0.1", NOW + 60);
    o.sink.send(put(&b)).unwrap();
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), 1);
    assert_eq!(open_clean(&path, NOW).bindings, vec![b]);

    // Again within the same second: the first copy is kept.
    std::fs::write(&path, b"garbage again, more than a header's worth of it.......................................................").unwrap();
    let o = open(&path, NOW);
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    assert!(with_suffix(&aside, ".1").exists());
    assert_eq!(std::fs::read(&aside).unwrap(), junk);
}

#[test]
fn damaged_page_is_detected_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    write_all(&path, (0..2000).map(|i| put(&numbered(i, NOW + 600))));
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 20 * 4096, "{}", bytes.len());
    for x in &mut bytes[8 * 4096..12 * 4096] {
        *x = 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    let o = open(&path, NOW);
    assert!(o.bindings.is_empty());
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    assert!(o.problems[0].contains("is corrupt"), "{:?}", o.problems);
    assert!(with_suffix(&path, &format!(".corrupt-{NOW}")).exists());
    o.sink.send(put(&numbered(1, NOW + 60))).unwrap();
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), 1);
}

#[test]
fn bad_row_is_skipped_reported_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let good = binding("alice", "sip:a@10.0.0.1", NOW + 60);
    let bad = binding("bob", "sip:b@10.0.0.2", NOW + 60);
    write_all(&path, [put(&good), put(&bad)]);
    {
        let c = Connection::open(&path).unwrap();
        c.execute(
            "UPDATE contacts SET source = 'not an address' WHERE aor = 'bob'",
            [],
        )
        .unwrap();
    }
    let o = open(&path, NOW);
    assert_eq!(o.bindings, vec![good.clone()]);
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    let p = &o.problems[0];
    assert!(p.contains("not an address") && p.contains("bob"), "{p}");
    assert!(p.contains(&path.display().to_string()), "{p}");
    drop(o.sink);
    assert!(o.writer.flush_and_stop(FLUSH));
    // Reported once: the row is gone.
    assert_eq!(open_clean(&path, NOW).bindings, vec![good]);
}

#[test]
fn newer_schema_version_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    write_all(&path, [put(&binding("a", "sip:a@10.0.0.1", NOW + 60))]);
    {
        let c = Connection::open(&path).unwrap();
        c.execute("UPDATE meta SET value = 7 WHERE key = 'version'", [])
            .unwrap();
    }
    let o = open(&path, NOW);
    assert!(o.bindings.is_empty());
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    assert!(o.problems[0].contains("version 7"), "{:?}", o.problems);
    let aside = with_suffix(&path, &format!(".newer-{NOW}"));
    assert!(o.problems[0].contains(&aside.display().to_string()));
    // Left as it was, for the newer pjsipd.
    let c = Connection::open(&aside).unwrap();
    let v: i64 = c
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(v, 7);
}

#[test]
fn uncreatable_directory_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    // A regular file where the directory should be: cannot be created, even by root.
    let blocker = dir.path().join("data");
    std::fs::write(&blocker, b"").unwrap();
    let path = default_path(&blocker.join("sub"));
    let o = open(&path, NOW);
    assert!(o.bindings.is_empty());
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    let p = &o.problems[0];
    assert!(p.contains(&path.display().to_string()), "{p}");
    assert!(p.contains("in-memory") && p.contains("not survive"), "{p}");
    for i in 0..100 {
        o.sink.send(put(&numbered(i, NOW + 60))).unwrap();
    }
    o.sink
        .send(Change::Delete {
            aor: numbered(0, 0).aor,
            hash: numbered(0, 0).hash,
        })
        .unwrap();
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), 101);
    assert_eq!(o.stats.failed(), 0);
}

#[test]
fn unopenable_file_falls_back_to_memory() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let path = default_path(dir.path());
    std::fs::create_dir(&path).unwrap();
    let o = open(&path, NOW);
    assert_eq!(o.problems.len(), 1, "{:?}", o.problems);
    assert!(o.problems[0].contains("in-memory"), "{:?}", o.problems);
    assert!(path.is_dir(), "left alone");
    o.sink.send(put(&numbered(1, NOW + 60))).unwrap();
    assert!(o.writer.flush_and_stop(FLUSH));
    assert_eq!(o.stats.written(), 1);
}

fn time_open(n: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = default_path(dir.path());
    let t = Instant::now();
    write_all(
        &path,
        (0..n).map(|i| {
            let mut b = numbered(i, NOW + 600);
            b.path = vec!["<sip:edge.example.com;lr>".into()];
            b.instance = Some("<urn:uuid:00000000-0000-1000-8000-000a95a0e128>".into());
            b.user_agent = "Yealink SIP-T54W 96.86.0.70".into();
            b.call_id = format!("{i}-a84b4c76e66710@pc33.example.com");
            put(&b)
        }),
    );
    eprintln!("writing {n} rows: {:?}", t.elapsed());
    let t = Instant::now();
    let o = open_clean(&path, NOW);
    let took = t.elapsed();
    assert_eq!(o.bindings.len(), n);
    eprintln!(
        "opening {n} rows: {took:?} ({} bytes)",
        std::fs::metadata(&path).unwrap().len()
    );
    took
}

#[test]
fn opening_20k_rows_is_quick() {
    // Debug build, unoptimised SQLite: generous bound.
    assert!(time_open(20_000) < Duration::from_secs(5));
}

/// `cargo test --lib location::persist -- --ignored --nocapture`
#[test]
#[ignore = "timing: 100,000 rows"]
fn opening_100k_rows_is_fast() {
    let took = time_open(100_000);
    assert!(took < Duration::from_secs(5), "{took:?}");
}
