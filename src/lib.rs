//! genericups-rs: a drop-in replacement for the Network UPS Tools `genericups` driver.
//!
//! Pure logic (no system calls, unit-tested with tables):
//! - [`lines`]: modem-control line words (`TIOCM_*` bits).
//! - [`upstype`]: the 24-entry cable table and `upstype` parsing (NUT `genericups.h`).
//! - [`overrides`]: tokenised CP/SD/OL/LB/RB/BYPASS overrides.
//! - [`status`]: one reading of the input lines to `ups.status`.
pub mod cli;
pub mod lines;
pub mod overrides;
pub mod parseconf;
pub mod paths;
pub mod settings;
pub mod status;
pub mod upsconf;
pub mod upstype;
pub mod version;
