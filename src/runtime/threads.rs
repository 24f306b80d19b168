//! The threads the queues run on. Each is a single-threaded runtime that keeps the queues
//! given to it for their whole life: a call's messages, transactions and channels are
//! allocated and freed on one thread and stay in one core's cache. On a work-stealing
//! runtime a queue's task moved between threads from one message to the next, so most of
//! what one thread allocated another freed (mimalloc then hands the block back to its
//! owner through an atomic list, and the owner's next allocation reads a cache line last
//! written by the other core).

use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::watch;

/// Starts `count` queue threads, each running until `finished` turns true (every queue
/// has ended), and returns their runtimes' handles: a queue is spawned on one of them. A
/// thread that cannot be started is left out (logged); with none, the caller spawns the
/// queues on its own runtime.
pub fn start(count: usize, finished: &watch::Receiver<bool>) -> Vec<Handle> {
    let mut handles = Vec::with_capacity(count);
    for index in 0..count {
        let mut finished = finished.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name(format!("pjsipd-q{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .on_thread_park(collect_freed_memory)
                    .build();
                let runtime = match runtime {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let _ = tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async move {
                    let _ = finished.wait_for(|done| *done).await;
                });
            });
        let started = match spawned {
            Ok(_) => rx
                .recv()
                .map_err(|_| "the thread ended at once".to_string()),
            Err(e) => Err(e.to_string()),
        };
        match started {
            Ok(Ok(handle)) => handles.push(handle),
            Ok(Err(e)) => tracing::error!("queue thread {index}: no runtime: {e}"),
            Err(e) => tracing::error!("queue thread {index} could not start: {e}"),
        }
    }
    handles
}

/// One queue thread per CPU the daemon may use.
pub fn per_cpu() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Lets mimalloc take back, at most every few seconds per thread and only when the thread
/// goes idle, the memory other threads freed for it (messages parsed on a receiving
/// thread are freed on a queue's): after a burst of registrations the daemon shrinks back
/// to what it holds instead of keeping the peak.
pub fn collect_freed_memory() {
    use std::cell::Cell;
    use std::time::Instant;
    const EVERY: Duration = Duration::from_secs(5);
    thread_local!(static LAST: Cell<Option<Instant>> = const { Cell::new(None) });
    LAST.with(|last| {
        let now = Instant::now();
        if last.get().is_some_and(|t| now.duration_since(t) < EVERY) {
            return;
        }
        last.set(Some(now));
        // SAFETY: mi_collect only walks mimalloc's heap of the calling thread; no
        // preconditions. Without mimalloc as the allocator it has nothing to do.
        unsafe { libmimalloc_sys::mi_collect(false) };
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task spawned on a queue thread's handle runs on that thread, every time it is
    /// woken (the point of the threads: a queue never moves), and the threads end once
    /// `finished` turns true.
    #[test]
    fn a_queue_stays_on_its_thread_and_threads_end_when_the_queues_have() {
        let (done, finished) = watch::channel(false);
        let handles = start(2, &finished);
        assert_eq!(handles.len(), 2);
        let (tx, rx) = std::sync::mpsc::channel();
        for (i, h) in handles.iter().enumerate() {
            let tx = tx.clone();
            h.spawn(async move {
                for _ in 0..20 {
                    let name = std::thread::current().name().map(str::to_string);
                    let _ = tx.send((i, name));
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        }
        drop(tx);
        let seen: Vec<_> = rx.iter().collect();
        assert_eq!(seen.len(), 40);
        for (i, name) in seen {
            assert_eq!(name.as_deref(), Some(format!("pjsipd-q{i}").as_str()));
        }
        // The threads' runtimes go when the queues are finished; their handles then
        // refuse work.
        done.send_replace(true);
        let gone = (0..500).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            handles.iter().all(|h| {
                let (tx, rx) = std::sync::mpsc::channel::<()>();
                drop(h.spawn(async move {
                    let _ = tx.send(());
                }));
                rx.recv_timeout(Duration::from_millis(50)).is_err()
            })
        });
        assert!(
            gone,
            "queue threads still running after the queues finished"
        );
    }
}
