//! The `genericups` binary: hands argv to the library and turns the outcome into an exit code.
fn main() {
    let code = genericups::app::run(
        std::env::args_os().collect(),
        &genericups::app::Env::process(),
    );
    std::process::exit(code);
}
