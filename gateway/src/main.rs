//! The `certgate` binary: parses the command line and runs [`certgate::cli`].

use clap::Parser;

fn main() {
    let out = certgate::cli::execute(certgate::cli::Cli::parse());
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    std::process::exit(out.code);
}
