//! The interactive console (`pjsipd -r`), like Asterisk's `asterisk -r`.

use std::io::Write;
use std::path::{Path, PathBuf};

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use super::client::{self, ClientError};

/// The prompt, after Asterisk's `*CLI>`.
pub const PROMPT: &str = "pjsipd*CLI> ";
/// History file name, in the user's home directory.
pub const HISTORY_FILE: &str = ".pjsipd_history";

/// Reads commands until `exit`, `quit`, Ctrl-D or Ctrl-C, sending each to the daemon at
/// `socket` and printing its answer. Fails at once when no daemon is listening.
pub fn run(socket: &Path) -> Result<(), ClientError> {
    // Prove the daemon is there before showing a prompt, and greet with its version.
    let hello = client::send(socket, "core show version")?;
    println!("Connected to {}", hello.text.trim_end());
    let mut editor = DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|home| PathBuf::from(home).join(HISTORY_FILE));
    if let Some(path) = &history {
        // Absent on first use, unreadable on odd setups: history is a convenience only.
        let _ = editor.load_history(path);
    }
    loop {
        let line = match editor.readline(PROMPT) {
            Ok(line) => line,
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => break,
            Err(e) => return Err(e.into()),
        };
        let command = line.trim();
        if command.is_empty() {
            continue;
        }
        if matches!(command, "exit" | "quit") {
            break;
        }
        let _ = editor.add_history_entry(command);
        match client::send(socket, command) {
            Ok(answer) => print_text(&answer.text),
            // Keep the console: the daemon may be restarting, and the user decides.
            Err(e) => eprintln!("{e}"),
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

/// Prints an answer, ending it with a newline so the next prompt starts a line.
fn print_text(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.is_empty() && !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}
