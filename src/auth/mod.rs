//! Digest authentication (work in progress: see issue 3).
