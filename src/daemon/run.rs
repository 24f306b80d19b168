//! The foreground daemon: start-up, the signal loop, graceful shutdown.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

use super::instance::Instance;
use super::paths::ConfigPaths;
use super::settings::Settings;
use super::{Error, logging, notify};
use crate::cli::{self, Daemon as _};
use crate::control;

/// How long blocking work (a reload, a CLI command) may delay the exit after shutdown.
const BLOCKING_GRACE: Duration = Duration::from_secs(5);

/// Runs the daemon in the foreground until SIGTERM, SIGINT or `core stop gracefully`.
pub fn run(config_dir: &Path) -> Result<(), Error> {
    let paths = ConfigPaths::resolve(config_dir)?;
    let settings = Settings::load(&paths.settings, &paths.dir)?;
    let log = logging::init(&settings.log);
    raise_fd_limit(settings.daemon.max_files);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("pjsipd")
        .on_thread_park(crate::runtime::threads::collect_freed_memory)
        .build()
        .map_err(|source| Error::Runtime {
            what: "async runtime",
            source,
        })?;
    let result = runtime.block_on(serve(paths, settings, log));
    // Bounded: a reload still running must not hold the exit hostage.
    runtime.shutdown_timeout(BLOCKING_GRACE);
    // An error is printed by the caller, not logged here, so it appears once on stderr.
    result
}

/// The signals the daemon acts on.
struct Signals {
    hangup: Signal,
    terminate: Signal,
    interrupt: Signal,
}

impl Signals {
    fn register() -> Result<Self, Error> {
        let on = |kind: SignalKind| {
            signal(kind).map_err(|source| Error::Runtime {
                what: "signal handler",
                source,
            })
        };
        Ok(Self {
            hangup: on(SignalKind::hangup())?,
            terminate: on(SignalKind::terminate())?,
            interrupt: on(SignalKind::interrupt())?,
        })
    }
}

async fn serve(
    paths: ConfigPaths,
    settings: Settings,
    log: logging::LogControl,
) -> Result<(), Error> {
    // First, so that a SIGHUP from an eager admin cannot kill the process with the default
    // action while it loads.
    let mut signals = Signals::register()?;
    tracing::info!(
        "{} starting; configuration directory {}",
        cli::version_string(),
        paths.dir.display()
    );
    let data_dir = &settings.daemon.data_dir;
    std::fs::create_dir_all(data_dir).map_err(|source| Error::DataDir {
        path: data_dir.clone(),
        source,
    })?;
    // Bound before loading: a second daemon started by mistake is refused before it does
    // any work, and clients that connect during the load wait in the backlog until the
    // configuration is there.
    let socket_path = settings.daemon.control_socket.clone();
    let data_dir = settings.daemon.data_dir.clone();
    let config_dir = paths.dir.clone();
    let tuning = crate::transport::Tuning {
        queues: settings.sip.queues.max(1),
        queue_depth: settings.sip.queue_depth.max(1),
        overload_wait: match settings.sip.overload_wait_ms {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        },
        queue_threads: match settings.sip.queue_threads {
            0 => crate::runtime::threads::per_cpu(),
            n => n,
        },
        message_timeout: Duration::from_secs(settings.sip.stream_message_timeout.max(1)),
        idle_timeout: Duration::from_secs(settings.sip.stream_idle_timeout.max(1)),
        max_connections: settings.sip.max_connections,
        udp_receive_buffer: settings.sip.udp_receive_buffer,
    };
    let listener = control::server::bind(&socket_path)?;
    let instance = Arc::new(Instance::new(paths, settings, log));
    // Start-up load on this thread: nothing else runs yet, and the daemon must not report
    // ready before it has its configuration.
    let loaded = match instance.load_at_start() {
        Ok(loaded) => loaded,
        Err(e) => {
            control::server::close(listener);
            return Err(e);
        }
    };
    tracing::info!("control socket listening at {}", socket_path.display());
    // Registered contacts back from the database before SIP starts: a phone registered
    // before a crash is reachable as soon as the daemon answers.
    let contact_db = instance.open_contact_db(&data_dir);

    let mut stop = instance.stop_requested();
    let daemon: Arc<dyn cli::Daemon> = instance.clone();
    let server = tokio::spawn(control::server::serve(listener, daemon, stop.clone()));
    let calls = start_calls(&instance);
    let sip = crate::transport::start(
        instance.store().clone(),
        &config_dir,
        &data_dir,
        instance.sip_logger(),
        tuning,
        crate::core::CoreShared {
            tables: instance.tables(),
            unidentified: instance.unidentified(),
            location: instance.location(),
            registrations: instance.registrations(),
            dialogs: Default::default(),
        },
        instance.hosts(),
        calls,
        stop.clone(),
    )
    .await;
    instance.set_transports(sip.handle.clone());
    let location = instance.location();
    sip.handle.on_connection_closed(Box::new(move |id| {
        location.connection_closed(id);
    }));
    tokio::spawn(sweep_contacts(instance.location(), stop.clone()));
    notify::spawn_watchdog(instance.store().clone(), stop.clone());
    notify::ready(&format!("{loaded} objects loaded"));
    tracing::info!("ready: {loaded} objects loaded");

    loop {
        tokio::select! {
            _ = signals.hangup.recv() => {
                tracing::info!("SIGHUP: reloading");
                let instance = instance.clone();
                // Its own task, so that SIGTERM is still heard during a long reload; reloads
                // queue on the instance's reload lock.
                tokio::spawn(async move {
                    match tokio::task::spawn_blocking(move || instance.reload()).await {
                        Ok(_) => {} // the outcome is already logged by the reload
                        Err(e) => tracing::error!("reload task failed: {e}"),
                    }
                });
            }
            _ = signals.terminate.recv() => {
                tracing::info!("SIGTERM: stopping");
                break;
            }
            _ = signals.interrupt.recv() => {
                tracing::info!("SIGINT: stopping");
                break;
            }
            _ = control::server::stopped(&mut stop) => break,
        }
    }

    notify::stopping();
    // Tells the control server (and the watchdog) to stop; a no-op when the CLI asked.
    instance.request_stop();
    match server.await {
        Ok(()) => {}
        Err(e) => tracing::error!("control server task failed: {e}"),
    }
    sip.join().await;
    // Calls forwarded by the kernel stop with the daemon, as relayed ones do.
    if let Some(calls) = instance.calls() {
        calls.media.stop_kernel_forwarding();
    }
    if !contact_db.flush_and_stop(BLOCKING_GRACE) {
        tracing::error!("the contact database writer did not finish in time");
    }
    tracing::info!("stopped");
    Ok(())
}

/// Removes expired contacts every few seconds (they are also dropped whenever their AOR
/// is touched), until `stop` turns true.
async fn sweep_contacts(
    location: Arc<crate::location::Location>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                location.sweep(super::instance::unix_now());
            }
            _ = stop.changed() => break,
        }
    }
}

/// The media engine and the PBX's shared parts. Without a media engine (no usable port
/// range) the daemon still serves registrations; calls are refused with 480.
fn start_calls(instance: &Arc<Instance>) -> Option<crate::runtime::CallWiring> {
    use crate::media::{MediaConfig, MediaEngine};
    let settings = instance.media_settings();
    let queues: Arc<std::sync::OnceLock<crate::runtime::QueuePool>> = Arc::default();
    let sink_queues = queues.clone();
    let sink: crate::media::EventSink = Arc::new(move |queue, event| {
        if let Some(pool) = sink_queues.get() {
            pool.media_event(queue, event);
        }
    });
    let engine = match MediaEngine::start(
        MediaConfig {
            port_start: settings.rtp_port_start,
            port_end: settings.rtp_port_end,
            threads: settings.threads,
            kernel_forwarding: settings.kernel_forwarding,
        },
        sink,
    ) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("media engine not started, calls will be refused: {e}");
            return None;
        }
    };
    let sounds = Arc::new(arc_swap::ArcSwap::from_pointee(super::sounds::load(
        &settings.sounds_dir,
    )));
    let shared = crate::pbx::PbxShared {
        media: engine,
        sounds_dir: settings.sounds_dir.clone(),
        registry: Arc::default(),
        sounds,
        counter: Arc::default(),
    };
    instance.set_calls(shared.clone());
    Some(crate::runtime::CallWiring { shared, queues })
}

/// Sets the open files limit: to `max_files` (soft and hard, as Asterisk's `maxfiles`; raising
/// the hard limit needs CAP_SYS_RESOURCE, else the hard limit is used), or with 0 the soft
/// limit to the hard one. Each call leg holds two sockets (RTP and RTCP), so a busy PBX needs
/// far more than the usual soft limit of 1024.
fn raise_fd_limit(max_files: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct passed by pointer, which outlives the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    let before = limit.rlim_cur;
    let set = |l: libc::rlimit| {
        // SAFETY: setrlimit only reads the struct passed by pointer.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &l) == 0 }
    };
    let wanted = libc::rlimit {
        rlim_cur: max_files,
        rlim_max: max_files.max(limit.rlim_max),
    };
    let fallback = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    let now = if max_files > 0 && set(wanted) {
        wanted.rlim_cur
    } else {
        if max_files > 0 {
            tracing::warn!(
                "could not set the open files limit to max_files = {max_files} \
                 (raising the hard limit {} needs CAP_SYS_RESOURCE); using {}",
                limit.rlim_max,
                limit.rlim_max
            );
        }
        if !set(fallback) {
            tracing::warn!("could not raise the open files limit ({before})");
            return;
        }
        fallback.rlim_cur
    };
    if now != before {
        tracing::info!("open files limit set from {before} to {now}");
    }
}
