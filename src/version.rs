//! Version strings the driver reports (banner, `driver.version*`).
#![forbid(unsafe_code)]

/// The NUT release whose driver interface (command line, socket protocol, variables) we
/// implement; published as `driver.version`.
pub const NUT_VERSION: &str = "2.8.5";

/// Our own version; published as `driver.version.internal`.
pub const DRIVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The driver's name as NUT prints it in the banner.
pub const DRIVER_NAME: &str = "Generic contact-closure UPS driver";

/// The first line every run prints on stdout (unless `NUT_QUIET_INIT_BANNER` says not to).
pub fn banner() -> String {
    format!("Network UPS Tools {NUT_VERSION} - {DRIVER_NAME} {DRIVER_VERSION} (genericups-rs)")
}
