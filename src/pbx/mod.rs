//! The PBX core: channels, bridges and the calls the dialplan makes (sans-IO).

pub mod cause;
