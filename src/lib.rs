//! genericups-rs: a drop-in replacement for the Network UPS Tools `genericups` driver.
//!
//! Pure logic (no system calls, unit-tested with tables):
//! - [`lines`]: modem-control line words (`TIOCM_*` bits).
//! - [`upstype`]: the 24-entry cable table and `upstype` parsing (NUT `genericups.h`).
//! - [`overrides`]: tokenised CP/SD/OL/LB/RB/BYPASS overrides.
//! - [`status`]: one reading of the input lines to `ups.status`.
pub mod app;
pub mod cli;
pub mod cnum;
pub mod driver;
pub mod dstate;
pub mod lines;
pub mod logging;
pub mod overrides;
pub mod parseconf;
pub mod paths;
pub mod port;
pub mod protocol;
pub mod server;
pub mod settings;
pub mod signals;
pub mod status;
pub mod syslog;
pub mod upsconf;
pub mod upstype;
pub mod version;
