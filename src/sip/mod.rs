//! The SIP message layer (work in progress: see issue 3).
