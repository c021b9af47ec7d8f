//! The `ferry` binary: parses flags, runs the library, maps outcomes to exit codes.
//!
//! Exit codes: 0 everything imported or skipped; 3 finished with rejected rows;
//! 2 usage or source error; 1 stopped by the target or a fatal error;
//! 130 interrupted.

mod cli;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose);
    let result = cli.run().await;
    if let Err(err) = &result {
        eprintln!("ferry: {err:#}");
        if let Some(hint) = cli::hint(err) {
            eprintln!("ferry: {hint}");
        }
    }
    ExitCode::from(cli::exit_code(&result))
}
