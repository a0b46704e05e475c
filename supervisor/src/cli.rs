//! The command line, LiteLLM's flags (reference section 1) with their environment variables.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "haimaker",
    about = "haimaker: a LiteLLM-compatible LLM gateway",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Internal: run as a worker process (started by the supervisor).
    #[command(name = "__worker", hide = true)]
    Worker(WorkerCli),
    /// Internal: run as the health process (started by the supervisor).
    #[command(name = "__health", hide = true)]
    Health(HealthCli),
    /// Apply the database migrations and exit (for a Helm pre-install/pre-upgrade job).
    Migrate(MigrateCli),
}

#[derive(Debug, Args)]
pub struct MigrateCli {
    /// Path to config.yaml (for general_settings.database_url; DATABASE_URL works too).
    #[arg(long, short = 'c', env = "CONFIG_FILE_PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct HealthCli {
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub detailed_debug: bool,
    #[arg(long)]
    pub debug: bool,
}

#[derive(Debug, Args)]
pub struct WorkerCli {
    #[arg(long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub slot: u32,
    #[arg(long, default_value_t = 0)]
    pub generation: u64,
    #[arg(long)]
    pub standby: bool,
    #[arg(long)]
    pub max_requests: Option<u64>,
    #[arg(long)]
    pub detailed_debug: bool,
    #[arg(long)]
    pub debug: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Address to bind.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// Port to bind (default 4000; if 4000 is taken and no port was given, a free one is used).
    #[arg(long, env = "PORT")]
    pub port: Option<u16>,
    /// Path to config.yaml.
    #[arg(long, short = 'c', env = "CONFIG_FILE_PATH")]
    pub config: Option<PathBuf>,
    /// Worker processes: a number, or `auto` for the CPUs this process may use.
    #[arg(long = "num_workers", env = "NUM_WORKERS", default_value = "1")]
    pub num_workers: String,
    /// Recycle a worker after this many requests.
    #[arg(
        long = "max_requests_before_restart",
        env = "MAX_REQUESTS_BEFORE_RESTART"
    )]
    pub max_requests_before_restart: Option<u64>,
    /// Random extra requests (0..=N) added to each worker's recycling budget.
    #[arg(
        long = "max_requests_before_restart_jitter",
        env = "MAX_REQUESTS_BEFORE_RESTART_JITTER"
    )]
    pub max_requests_before_restart_jitter: Option<u64>,
    /// Also recycle a worker whose resident memory passes this many MB.
    #[arg(long = "max_worker_memory_mb", env = "MAX_WORKER_MEMORY_MB")]
    pub max_worker_memory_mb: Option<u64>,
    /// Never recycle a worker younger than this many seconds (a burst cannot cause a restart
    /// storm).
    #[arg(
        long = "min_worker_lifetime",
        env = "MIN_WORKER_LIFETIME",
        default_value_t = 5.0
    )]
    pub min_worker_lifetime: f64,
    /// Seconds in-flight requests get to finish after SIGTERM or a recycle.
    #[arg(
        long = "graceful_timeout",
        env = "GRACEFUL_TIMEOUT",
        default_value_t = 30.0
    )]
    pub graceful_timeout: f64,
    /// Accepted for compatibility: the supervisor is always the stable multi-worker path.
    #[arg(long = "run_gunicorn")]
    pub run_gunicorn: bool,
    /// INFO logs.
    #[arg(long, env = "DEBUG", value_parser = clap::builder::FalseyValueParser::new(), default_value = "false", num_args = 0, default_missing_value = "true")]
    pub debug: bool,
    /// DEBUG logs, including request and response bodies.
    #[arg(long = "detailed_debug", env = "DETAILED_DEBUG", value_parser = clap::builder::FalseyValueParser::new(), default_value = "false", num_args = 0, default_missing_value = "true")]
    pub detailed_debug: bool,
    /// Check config.yaml, print the result and exit (0 valid, 64 invalid).
    #[arg(long = "validate_config")]
    pub validate_config: bool,
    /// Print the version and exit.
    #[arg(long, short = 'v')]
    pub version: bool,

    // Accepted so existing command lines keep working; not implemented yet.
    #[arg(long = "keepalive_timeout", env = "KEEPALIVE_TIMEOUT", hide = true)]
    pub keepalive_timeout: Option<u64>,
    #[arg(long = "limit_concurrency", env = "LIMIT_CONCURRENCY", hide = true)]
    pub limit_concurrency: Option<u64>,
    #[arg(
        long = "timeout_worker_healthcheck",
        env = "TIMEOUT_WORKER_HEALTHCHECK",
        hide = true
    )]
    pub timeout_worker_healthcheck: Option<u64>,
    #[arg(long = "run_hypercorn", hide = true)]
    pub run_hypercorn: bool,
    #[arg(long = "run_granian", hide = true)]
    pub run_granian: bool,
    #[arg(long = "ssl_keyfile_path", env = "SSL_KEYFILE_PATH", hide = true)]
    pub ssl_keyfile_path: Option<PathBuf>,
    #[arg(long = "ssl_certfile_path", env = "SSL_CERTFILE_PATH", hide = true)]
    pub ssl_certfile_path: Option<PathBuf>,
    #[arg(long = "ciphers", hide = true)]
    pub ciphers: Option<String>,
    #[arg(long = "log_config", hide = true)]
    pub log_config: Option<PathBuf>,
    /// Prepare the database (migrations) and exit without serving.
    #[arg(long = "skip_server_startup")]
    pub skip_server_startup: bool,
    /// Accepted for compatibility (LiteLLM's Prisma tooling); haimaker's migrations are embedded.
    #[arg(long = "use_prisma_migrate", env = "USE_PRISMA_MIGRATE", hide = true, value_parser = clap::builder::FalseyValueParser::new(), default_value = "false", num_args = 0, default_missing_value = "true")]
    pub use_prisma_migrate: bool,
    #[arg(long = "use_prisma_db_push", hide = true)]
    pub use_prisma_db_push: bool,
    #[arg(long = "use_legacy_migration_resolver", hide = true)]
    pub use_legacy_migration_resolver: bool,
    #[arg(
        long = "prometheus_metrics_port",
        env = "PROMETHEUS_METRICS_PORT",
        hide = true
    )]
    pub prometheus_metrics_port: Option<u16>,
    #[arg(long = "iam_token_db_auth", hide = true)]
    pub iam_token_db_auth: bool,
    #[arg(long = "reload", hide = true)]
    pub reload: bool,
    #[arg(long = "telemetry", hide = true, num_args = 0..=1)]
    pub telemetry: Option<Option<String>>,
}

impl RunArgs {
    /// Flags that were given but do nothing yet, for the start-up warning.
    pub fn ignored_flags(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |given: bool, name: &'static str| {
            if given {
                out.push(name);
            }
        };
        note(self.keepalive_timeout.is_some(), "--keepalive_timeout");
        note(self.limit_concurrency.is_some(), "--limit_concurrency");
        note(
            self.timeout_worker_healthcheck.is_some(),
            "--timeout_worker_healthcheck",
        );
        note(self.run_hypercorn, "--run_hypercorn");
        note(self.run_granian, "--run_granian");
        note(self.ssl_keyfile_path.is_some(), "--ssl_keyfile_path");
        note(self.ssl_certfile_path.is_some(), "--ssl_certfile_path");
        note(self.ciphers.is_some(), "--ciphers");
        note(self.log_config.is_some(), "--log_config");
        note(self.use_prisma_db_push, "--use_prisma_db_push");
        note(
            self.use_legacy_migration_resolver,
            "--use_legacy_migration_resolver",
        );
        note(
            self.prometheus_metrics_port.is_some(),
            "--prometheus_metrics_port",
        );
        note(self.iam_token_db_auth, "--iam_token_db_auth");
        note(self.reload, "--reload");
        out
    }
}
