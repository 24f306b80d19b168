//! The sounds Playback() plays: every file of `[media] sounds_dir` in a format the media
//! engine reads (8 kHz WAV, raw µ-law/A-law/linear), loaded at start and on reload, by
//! name without extension (as Asterisk names them: `Playback(hello-world)`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::media::{Sound, load_sound};

/// Largest number of files read from the directory (a misconfigured path such as `/`
/// must not take the daemon's memory).
const MAX_FILES: usize = 10_000;

/// Loads the sounds of `dir`. A missing directory is not an error (no sounds); a file that
/// cannot be read or decoded is logged and skipped.
pub(crate) fn load(dir: &Path) -> HashMap<String, Arc<Sound>> {
    let mut sounds = HashMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::info!("sounds: no directory {}", dir.display());
        return sounds;
    };
    for entry in entries.flatten().take(MAX_FILES) {
        let path = entry.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if !path.is_file() || sounds.contains_key(stem) {
            continue;
        }
        match load_sound(&path) {
            Ok(s) => {
                sounds.insert(stem.to_string(), Arc::new(s));
            }
            Err(e) => tracing::warn!("sounds: {e}"),
        }
    }
    tracing::info!("sounds: {} loaded from {}", sounds.len(), dir.display());
    sounds
}
