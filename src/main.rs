//! TEMPORARY main for the `server` branch (the lead owns main.rs and merges it
//! by hand): only the `serve` subcommand.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli {
    pub mod serve;
}

/// ferry: bulk user import.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the reference target server.
    Serve(cli::serve::ServeArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => cli::serve::run(args).await,
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ferry: {err:#}");
            ExitCode::FAILURE
        }
    }
}
