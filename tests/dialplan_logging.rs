//! The dialplan's log lines as Asterisk writes them. In a test binary of its own: a
//! subscriber installed for one test races other tests' threads over tracing's per-call-site
//! interest cache, so the lines could go missing when run alongside them.

use std::path::Path;

use pjsipd::config::ini::MemFs;
use pjsipd::dialplan::Dialplan;
use pjsipd::dialplan::exec::{Action, CallerIdentity, ChannelData, EndReason, Execution};

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Fake;

impl ChannelData for Fake {
    fn name(&self) -> &str {
        "PJSIP/6001-00000001"
    }
    fn unique_id(&self) -> &str {
        "1700000000.1"
    }
    fn read_function(&mut self, _: &str, _: &str) -> Option<Result<String, String>> {
        None
    }
    fn write_function(&mut self, _: &str, _: &str, _: &str) -> Option<Result<(), String>> {
        None
    }
}

#[test]
fn steps_and_problems_are_logged_like_asterisk() {
    let text = "[internal]\nexten => 600,1,NoOp(Call to ${EXTEN})\n same => n,NoOp(${FROB(1)})\n\
                same => n,Frob(x)\n";
    let d = Dialplan::load_str(
        &MemFs::new(),
        Path::new("/etc/pjsipd/extensions.conf"),
        text,
    )
    .expect("loads")
    .dialplan;
    let cap = Captured::default();
    let writer = cap.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("first subscriber");
    let mut f = Fake;
    let mut e = Execution::start(&d, "internal", "600", CallerIdentity::default());
    let action = e.run(&d, &mut f);
    assert!(matches!(
        action,
        Action::End {
            reason: EndReason::NoApplication { .. }
        }
    ));
    let text = cap
        .0
        .lock()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    for needle in [
        "Executing [600@internal:1] NoOp(\"PJSIP/6001-00000001\", \"Call to 600\") in new stack",
        "Function FROB not registered",
        "Executing [600@internal:2] NoOp(\"PJSIP/6001-00000001\", \"\") in new stack",
        "No application 'Frob' for extension (internal, 600, 3) at /etc/pjsipd/extensions.conf:4",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
}
