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
    match cli.run().await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ferry: {err:#}");
            ExitCode::from(cli::exit_code_of(&err))
        }
    }
}
