//! `csep-trigger`: not yet implemented; it arrives with issue #3. Until then it says so and
//! exits 2, so a hook script that calls it fails loudly rather than silently.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("csep-trigger {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    csep::out::warn("csep-trigger", "not yet implemented, see #3");
    std::process::ExitCode::from(csep::Exit::Error.code() as u8)
}
