//! The `haimaker` supervisor: command line, config check, the listening socket and the
//! worker fleet.
//!
//! Order of start-up (nothing binds before the config is known good):
//! 1. flags and environment; `.env` unless `LITELLM_MODE=PRODUCTION`
//! 2. config.yaml: every problem reported at once, exit 64
//! 3. logging; one warning listing what is accepted but not implemented yet
//! 4. bind the one listening socket, spawn the workers on it (they re-execute this binary)
//! 5. supervise (see `fleet`)
//!
//! See ARCHITECTURE.md for the process diagram and the exit-code and signal tables.

pub mod cli;
mod cpus;
mod database;
mod fleet;
mod listener;
mod recycle;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use haimaker_config::{Config, Layered, Loaded, MapVars, ProcessEnv, Vars};
use haimaker_proc::exit;

use cli::{HealthCli, RunArgs};

/// Runs the supervisor; returns the process exit code.
pub fn run(args: RunArgs) -> i32 {
    let started = Instant::now();
    if args.version {
        println!(
            "haimaker {} (LiteLLM proxy compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return exit::OK;
    }
    let process = ProcessEnv;
    let dotenv = match load_dotenv(&process) {
        Ok(vars) => vars,
        Err(message) => {
            eprintln!("{message}");
            return exit::CONFIG;
        }
    };
    let overlay = MapVars(dotenv.clone());
    let vars = Layered {
        over: &process,
        under: &overlay,
    };
    let loaded = match &args.config {
        Some(path) => match haimaker_config::load(path, &vars) {
            Ok(loaded) => loaded,
            Err(errors) => {
                eprintln!("{errors}");
                return exit::CONFIG;
            }
        },
        None => Loaded {
            config: Config::default(),
            not_implemented: Vec::new(),
        },
    };
    if args.validate_config {
        return report_valid(args.config.as_deref(), &loaded);
    }
    let workers = match parse_num_workers(&args.num_workers) {
        Ok(n) => n,
        Err(message) => {
            eprintln!("{message}");
            return exit::CONFIG;
        }
    };
    let settings =
        match haimaker_worker::log_settings(&loaded.config, &vars, args.detailed_debug, args.debug)
        {
            Ok(s) => s,
            Err(message) => {
                eprintln!("{message}");
                return exit::CONFIG;
            }
        };
    let _log = haimaker_telemetry::init(settings);
    if let Some(warning) = loaded.not_implemented_warning() {
        tracing::warn!(target: "haimaker::supervisor", "{warning}");
    }
    let ignored = args.ignored_flags();
    if !ignored.is_empty() {
        tracing::warn!(
            target: "haimaker::supervisor",
            "flags accepted for compatibility but not implemented yet: {}",
            ignored.join(", ")
        );
    }
    // A current-thread runtime on the main thread: children are spawned from this thread, and
    // PR_SET_PDEATHSIG fires when the spawning *thread* exits.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "haimaker::supervisor", error = %e, "could not start the runtime");
            return exit::FATAL;
        }
    };
    let db_settings = match database::settings(&loaded.config, &vars) {
        Ok(s) => s,
        Err(message) => {
            tracing::error!(target: "haimaker::supervisor", "{message}");
            return exit::CONFIG;
        }
    };
    if let Some(settings) = &db_settings {
        let schema = if args.skip_server_startup {
            database::Schema::Migrate
        } else {
            database::schema_policy(&loaded.config, &vars)
        };
        let master = master_key(&loaded.config, &vars);
        if let Err(code) = runtime.block_on(database::prepare(
            settings,
            schema,
            master.as_deref(),
            &loaded.config,
        )) {
            return code;
        }
    }
    if args.skip_server_startup {
        tracing::info!(target: haimaker_telemetry::LIFECYCLE_TARGET, "--skip_server_startup: database prepared; exiting");
        return exit::OK;
    }
    // Re-execute through /proc/self/exe: it always names the binary this supervisor runs, even
    // if the file on disk was replaced since (a deploy), so a worker respawned hours later is the
    // same version as its supervisor.
    let proc_self = std::path::PathBuf::from("/proc/self/exe");
    let exe = match std::env::current_exe().map(|p| if proc_self.exists() { proc_self } else { p })
    {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(target: "haimaker::supervisor", error = %e, "cannot find the haimaker executable to start workers");
            return exit::FATAL;
        }
    };
    let listener = match listener::bind(&args.host, args.port) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(target: "haimaker::supervisor", "{e}");
            return exit::FATAL;
        }
    };
    let address = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(target: "haimaker::supervisor", error = %e, "cannot read the bound address");
            return exit::FATAL;
        }
    };
    let health = match health_socket(&vars, &args.host) {
        Ok(h) => h,
        Err(message) => {
            tracing::error!(target: "haimaker::supervisor", "{message}");
            return exit::FATAL;
        }
    };
    let (Some(graceful_timeout), Some(min_lifetime)) = (
        seconds(args.graceful_timeout),
        seconds(args.min_worker_lifetime),
    ) else {
        tracing::error!(target: "haimaker::supervisor", "--graceful_timeout and --min_worker_lifetime must be non-negative numbers of seconds");
        return exit::CONFIG;
    };
    let plan = fleet::FleetPlan {
        workers,
        exe,
        worker_args: worker_args(&args),
        health_args: health_args(&args),
        child_env: child_env(&process, dotenv, &loaded.config),
        graceful_timeout,
        address,
        health,
        recycling: recycle::Recycling {
            max_requests: args.max_requests_before_restart,
            jitter: args.max_requests_before_restart_jitter.unwrap_or(0),
            max_memory_mb: args.max_worker_memory_mb,
            min_lifetime,
        },
        heartbeat_stale: heartbeat_stale(&vars),
        metrics_interval: metrics_interval(&vars),
        metrics_to_workers: vars
            .get(haimaker_metrics::MAIN_PORT_ENV)
            .and_then(|v| haimaker_config::flag(&v))
            .unwrap_or(true),
        allow_requests_on_db_unavailable: loaded
            .config
            .general_settings
            .allow_requests_on_db_unavailable,
        started,
    };
    // A current-thread runtime on the main thread: children are spawned from this thread, and
    // PR_SET_PDEATHSIG fires when the spawning *thread* exits.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(target: "haimaker::supervisor", error = %e, "could not start the runtime");
            return exit::FATAL;
        }
    };
    runtime.block_on(fleet::run(listener, plan))
}

fn load_dotenv(process: &ProcessEnv) -> Result<BTreeMap<String, String>, String> {
    if !haimaker_config::should_load_dotenv(process.get("LITELLM_MODE").as_deref()) {
        return Ok(BTreeMap::new());
    }
    haimaker_config::read_dotenv(Path::new(".env")).map_err(|e| e.to_string())
}

fn report_valid(path: Option<&Path>, loaded: &Loaded) -> i32 {
    let name = path.map_or_else(
        || "(no config file)".to_string(),
        |p| p.display().to_string(),
    );
    let config = &loaded.config;
    let groups: std::collections::BTreeSet<&str> = config
        .model_list
        .iter()
        .map(|d| d.model_name.as_str())
        .collect();
    println!(
        "{name}: valid ({} deployment{}, {} model group{})",
        config.model_list.len(),
        if config.model_list.len() == 1 {
            ""
        } else {
            "s"
        },
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
    );
    if let Some(warning) = loaded.not_implemented_warning() {
        println!("warning: {warning}");
    }
    exit::OK
}

fn parse_num_workers(value: &str) -> Result<usize, String> {
    let value = value.trim();
    if value.eq_ignore_ascii_case("auto") {
        return Ok(cpus::allowance());
    }
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "--num_workers (env NUM_WORKERS): expected a positive integer or `auto`, found `{value}`"
        )),
    }
}

/// The master key as LiteLLM reads it: config, else `LITELLM_MASTER_KEY`.
fn master_key(config: &Config, vars: &dyn Vars) -> Option<String> {
    config
        .general_settings
        .master_key
        .as_ref()
        .map(|k| k.expose().to_string())
        .or_else(|| vars.get("LITELLM_MASTER_KEY").filter(|k| !k.is_empty()))
}

/// `haimaker migrate`: applies the migrations (whatever DISABLE_SCHEMA_UPDATE says) and exits.
pub fn run_migrate(args: cli::MigrateCli) -> i32 {
    let process = ProcessEnv;
    let loaded = match &args.config {
        Some(path) => match haimaker_config::load(path, &process) {
            Ok(loaded) => loaded,
            Err(errors) => {
                eprintln!("{errors}");
                return exit::CONFIG;
            }
        },
        None => Loaded {
            config: Config::default(),
            not_implemented: Vec::new(),
        },
    };
    let settings = match haimaker_worker::log_settings(&loaded.config, &process, false, false) {
        Ok(s) => s,
        Err(message) => {
            eprintln!("{message}");
            return exit::CONFIG;
        }
    };
    let _log = haimaker_telemetry::init(settings);
    let db_settings = match database::settings(&loaded.config, &process) {
        Ok(Some(s)) => s,
        Ok(None) => {
            tracing::error!(target: "haimaker::supervisor", "no database configured (DATABASE_URL or general_settings.database_url)");
            return exit::CONFIG;
        }
        Err(message) => {
            tracing::error!(target: "haimaker::supervisor", "{message}");
            return exit::CONFIG;
        }
    };
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return exit::FATAL;
    };
    let master = master_key(&loaded.config, &process);
    match runtime.block_on(database::prepare(
        &db_settings,
        database::Schema::Migrate,
        master.as_deref(),
        &loaded.config,
    )) {
        Ok(()) => exit::OK,
        Err(code) => code,
    }
}

/// Runs the health process (`haimaker __health`); returns its exit code.
pub fn run_health(args: HealthCli) -> i32 {
    let env = ProcessEnv;
    let config = match &args.config {
        Some(path) => match haimaker_config::load(path, &env) {
            Ok(loaded) => loaded.config,
            Err(errors) => {
                eprintln!("{errors}");
                return exit::CONFIG;
            }
        },
        None => Config::default(),
    };
    match haimaker_worker::log_settings(&config, &env, args.detailed_debug, args.debug) {
        Ok(settings) => haimaker_health::run(haimaker_telemetry::LogSettings {
            access_log: false,
            ..settings
        }),
        Err(message) => {
            eprintln!("{message}");
            exit::CONFIG
        }
    }
}

/// `SEPARATE_HEALTH_APP=1`: the health process's socket on `SEPARATE_HEALTH_PORT` (default
/// 4001), bound here like the main socket.
fn health_socket(vars: &dyn Vars, host: &str) -> Result<Option<std::net::TcpListener>, String> {
    let enabled = vars.get("SEPARATE_HEALTH_APP").is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    });
    if !enabled {
        return Ok(None);
    }
    let port = match vars.get("SEPARATE_HEALTH_PORT") {
        None => 4001,
        Some(v) => v
            .trim()
            .parse::<u16>()
            .map_err(|_| format!("SEPARATE_HEALTH_PORT: expected a port number, found `{v}`"))?,
    };
    listener::bind(host, Some(port))
        .map(Some)
        .map_err(|e| format!("health process: {e}"))
}

fn heartbeat_stale(vars: &dyn Vars) -> Duration {
    let ms = vars
        .get(haimaker_proc::ENV_HEARTBEAT_STALE_MS)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(haimaker_proc::DEFAULT_HEARTBEAT_STALE_MS);
    Duration::from_millis(ms)
}

/// `HAIMAKER_METRICS_INTERVAL_MS` (default 1000): how often workers report and the pod's
/// `/metrics` text is refreshed.
fn metrics_interval(vars: &dyn Vars) -> Duration {
    let ms = vars
        .get("HAIMAKER_METRICS_INTERVAL_MS")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .unwrap_or(1000);
    Duration::from_millis(ms)
}

fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && (0.0..1e9).contains(&value)).then(|| Duration::from_secs_f64(value))
}

fn health_args(args: &RunArgs) -> Vec<OsString> {
    let mut out = Vec::new();
    if let Some(config) = &args.config {
        let config = std::path::absolute(config).unwrap_or_else(|_| config.clone());
        out.push(OsString::from("--config"));
        out.push(config.into_os_string());
    }
    if args.detailed_debug {
        out.push(OsString::from("--detailed-debug"));
    }
    out
}

fn worker_args(args: &RunArgs) -> Vec<OsString> {
    let mut out = Vec::new();
    if let Some(config) = &args.config {
        // Workers resolve the path from the same working directory, but an absolute path
        // survives anyone changing it.
        let config = std::path::absolute(config).unwrap_or_else(|_| config.clone());
        out.push(OsString::from("--config"));
        out.push(config.into_os_string());
    }
    if args.detailed_debug {
        out.push(OsString::from("--detailed-debug"));
    }
    if args.debug {
        out.push(OsString::from("--debug"));
    }
    out
}

/// What children get on top of the supervisor's own environment: `.env` values the process
/// environment does not override, then `environment_variables` from the config (which win,
/// as LiteLLM sets them into `os.environ`).
fn child_env(
    process: &ProcessEnv,
    dotenv: BTreeMap<String, String>,
    config: &Config,
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = dotenv
        .into_iter()
        .filter(|(k, _)| process.get(k).is_none())
        .collect();
    env.extend(config.environment_variables.clone());
    env
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn num_workers_accepts_numbers_and_auto() {
        assert_eq!(parse_num_workers("3").unwrap(), 3);
        assert!(parse_num_workers("auto").unwrap() >= 1);
        let err = parse_num_workers("zero").unwrap_err();
        assert!(err.contains("--num_workers") && err.contains("zero"));
        assert!(parse_num_workers("0").is_err());
    }
}
