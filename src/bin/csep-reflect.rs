//! `csep-reflect`: not yet implemented; it arrives with issue #4. Until then it says so and
//! exits 2, so a hook script that calls it fails loudly rather than silently.

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--version" || a == "-V") {
        println!("csep-reflect {}", env!("CARGO_PKG_VERSION"));
        return std::process::ExitCode::SUCCESS;
    }
    csep::out::warn("csep-reflect", "not yet implemented, see #4");
    std::process::ExitCode::from(csep::Exit::Error.code() as u8)
}
