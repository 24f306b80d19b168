//! systemd notifications (`sd_notify`). Without `NOTIFY_SOCKET` every call is a no-op.
//!
//! A failed notification is logged, never fatal: the daemon works without systemd, and if
//! systemd cannot be told something it will act on its own timeouts anyway.

use std::sync::Arc;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio::sync::watch;

use crate::sorcery::Store;

fn send(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!("cannot notify systemd: {e}");
    }
}

/// Start-up or a reload is complete.
pub(crate) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// A reload starts. systemd ≥ 253 (`Type=notify-reload`) wants the monotonic time with it.
pub(crate) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(e) => {
            tracing::warn!("cannot read the monotonic clock: {e}");
            send(&[NotifyState::Reloading]);
        }
    }
}

/// Shutdown starts.
pub(crate) fn stopping() {
    send(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

/// When systemd's watchdog is on (`WatchdogSec=`), pets it at half the interval until
/// `stop` turns true. Each ping first does a round trip through the store on the blocking
/// pool (where CLI commands and reloads run), so a wedged runtime or pool stops the pings
/// and systemd restarts the daemon.
pub(crate) fn spawn_watchdog(store: Arc<Store>, mut stop: watch::Receiver<bool>) {
    let Some(interval) = sd_notify::watchdog_enabled() else {
        return;
    };
    let period = (interval / 2).max(Duration::from_millis(10));
    tracing::info!(?interval, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        // A late tick must not be followed by a burst: one ping per period is the contract.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = crate::control::server::stopped(&mut stop) => return,
            }
            let store = store.clone();
            match tokio::task::spawn_blocking(move || store.snapshot().generation()).await {
                Ok(_) => send(&[NotifyState::Watchdog]),
                Err(e) => tracing::error!("watchdog probe failed, not pinging systemd: {e}"),
            }
        }
    });
}
