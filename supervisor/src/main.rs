//! The `haimaker` executable. Thin: parses the command line and hands over to the library.
//! The same binary runs as a worker (`haimaker __worker ...`), started by the supervisor.

use std::process::ExitCode;

use clap::Parser;
use haimaker::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Worker(w)) => haimaker_worker::run(haimaker_worker::WorkerArgs {
            config: w.config,
            slot: w.slot,
            generation: w.generation,
            standby: w.standby,
            max_requests: w.max_requests,
            detailed_debug: w.detailed_debug,
            debug: w.debug,
        }),
        Some(Command::Health(h)) => haimaker::run_health(h),
        Some(Command::Migrate(m)) => haimaker::run_migrate(m),
        None => haimaker::run(cli.run),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
