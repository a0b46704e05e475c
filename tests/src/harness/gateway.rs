//! Running the real `haimaker` binary: a temp config, port 0, output captured line by line.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long a debug build may take to come up.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The `haimaker` binary of this build (`target/<profile>/haimaker`), or `HAIMAKER_BIN`.
pub fn haimaker_bin() -> PathBuf {
    if let Ok(path) = std::env::var("HAIMAKER_BIN") {
        return PathBuf::from(path);
    }
    // The test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let bin = profile_dir.join("haimaker");
    assert!(
        bin.exists(),
        "{} does not exist: build it first with `cargo build -p haimaker` (the README's test command does)",
        bin.display()
    );
    bin
}

/// Environment variables a developer's shell may carry that would change what a test sees.
const SCRUBBED_ENV: &[&str] = &[
    "RUST_LOG",
    "LITELLM_LOG",
    "JSON_LOGS",
    "LITELLM_MODE",
    "LITELLM_MASTER_KEY",
    "PORT",
    "HOST",
    "CONFIG_FILE_PATH",
    "NUM_WORKERS",
    "DEBUG",
    "DETAILED_DEBUG",
    "OPENAI_API_KEY",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_PASSWORD",
    "REDIS_USERNAME",
    "REDIS_SSL",
    "HAIMAKER_REDIS_PREFIX",
    "OPENAI_API_BASE",
    "OPENAI_BASE_URL",
    "DATABASE_URL",
    "HAIMAKER_ACCESS_LOG",
];

#[derive(Debug, Default)]
struct Lines {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

/// Captured stdout and stderr, interleaved in arrival order.
#[derive(Debug, Clone, Default)]
pub struct Output(Arc<Lines>);

impl Output {
    fn attach(&self, stream: impl std::io::Read + Send + 'static) {
        let lines = Arc::clone(&self.0);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lines.lock().unwrap().push(line);
                lines.changed.notify_all();
            }
        });
    }

    pub fn lines(&self) -> Vec<String> {
        self.0.lines.lock().unwrap().clone()
    }

    pub fn text(&self) -> String {
        self.lines().join("\n")
    }

    /// Waits (up to `within`) for a line matching `pred`; `None` on timeout.
    pub fn wait_for(&self, within: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + within;
        let mut lines = self.0.lines.lock().unwrap();
        loop {
            if let Some(found) = lines.iter().find(|l| pred(l)) {
                return Some(found.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            lines = self
                .0
                .changed
                .wait_timeout(lines, deadline - now)
                .unwrap()
                .0;
        }
    }
}

/// Builds a gateway run.
#[derive(Debug)]
pub struct GatewayBuilder {
    config: Option<String>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    files: Vec<(String, String)>,
    workers: Option<usize>,
    default_addr: bool,
}

impl GatewayBuilder {
    /// Do not pass `--host 127.0.0.1 --port 0` (for tests of HOST/PORT).
    pub fn without_default_addr(mut self) -> Self {
        self.default_addr = false;
        self
    }

    /// Do not pass `--num_workers` (for tests of NUM_WORKERS).
    pub fn without_num_workers(mut self) -> Self {
        self.workers = None;
        self
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// `--port <port>` (with [`Self::without_default_addr`]).
    pub fn args_port(self, port: &str) -> Self {
        self.arg("--host").arg("127.0.0.1").arg("--port").arg(port)
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Writes another file next to config.yaml (includes, `.env`).
    pub fn file(mut self, name: impl Into<String>, contents: impl Into<String>) -> Self {
        self.files.push((name.into(), contents.into()));
        self
    }

    /// Points the gateway at the test's Redis (`REDIS_URL`) under the test's key prefix.
    pub fn redis(self, redis: &super::redis::TestRedis) -> Self {
        self.env("REDIS_URL", redis.url())
            .env("HAIMAKER_REDIS_PREFIX", redis.prefix.clone())
    }

    pub fn workers(mut self, n: usize) -> Self {
        self.workers = Some(n);
        self
    }

    fn command(&self) -> (Command, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        for (name, contents) in &self.files {
            std::fs::write(dir.path().join(name), contents).unwrap();
        }
        let mut cmd = Command::new(haimaker_bin());
        cmd.current_dir(dir.path());
        if let Some(config) = &self.config {
            std::fs::write(dir.path().join("config.yaml"), config).unwrap();
            cmd.arg("--config").arg(dir.path().join("config.yaml"));
        }
        if self.default_addr {
            cmd.args(["--host", "127.0.0.1", "--port", "0"]);
        }
        if let Some(n) = self.workers {
            cmd.arg("--num_workers").arg(n.to_string());
        }
        cmd.args(&self.args);
        for key in SCRUBBED_ENV {
            cmd.env_remove(key);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        (cmd, dir)
    }

    /// Starts the gateway and waits until it serves.
    pub fn start(self) -> Gateway {
        let (mut cmd, dir) = self.command();
        let mut child = cmd.spawn().unwrap();
        let output = Output::default();
        output.attach(child.stdout.take().unwrap());
        output.attach(child.stderr.take().unwrap());
        let Some(line) = output.wait_for(START_DEADLINE, |l| {
            l.contains("haimaker running on http://")
        }) else {
            let _ = child.kill();
            panic!(
                "haimaker did not start within {START_DEADLINE:?}; output:\n{}",
                output.text()
            );
        };
        let addr = parse_addr(&line).unwrap_or_else(|| panic!("no address in {line:?}"));
        let health_addr = output
            .lines()
            .iter()
            .find(|l| l.contains("health probes on http://"))
            .and_then(|l| parse_addr(l));
        Gateway {
            child: Some(child),
            addr,
            health_addr,
            output,
            _dir: dir,
        }
    }

    /// Runs to completion (for runs expected to exit): exit status and output.
    pub fn run_to_exit(self) -> (ExitStatus, String) {
        let (mut cmd, _dir) = self.command();
        let out = cmd.output().unwrap();
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status, text)
    }
}

fn parse_addr(line: &str) -> Option<SocketAddr> {
    let rest = line.split("http://").nth(1)?;
    let addr: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    addr.parse().ok()
}

/// A running gateway; stopped (SIGTERM, then SIGKILL) when dropped.
#[derive(Debug)]
pub struct Gateway {
    child: Option<Child>,
    pub addr: SocketAddr,
    /// The health process's address (`SEPARATE_HEALTH_APP=1`).
    pub health_addr: Option<SocketAddr>,
    pub output: Output,
    _dir: tempfile::TempDir,
}

impl Gateway {
    pub fn builder(config: &str) -> GatewayBuilder {
        GatewayBuilder {
            config: Some(config.to_string()),
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
            workers: Some(1),
            default_addr: true,
        }
    }

    /// A run without `--config`.
    pub fn builder_without_config() -> GatewayBuilder {
        GatewayBuilder {
            config: None,
            args: Vec::new(),
            env: Vec::new(),
            files: Vec::new(),
            workers: Some(1),
            default_addr: true,
        }
    }

    pub fn start(config: &str) -> Gateway {
        Self::builder(config).start()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn health_url(&self, path: &str) -> String {
        let addr = self
            .health_addr
            .expect("the health process is not running (SEPARATE_HEALTH_APP)");
        format!("http://{addr}{path}")
    }

    /// Sends `sig` to the supervisor.
    pub fn signal(&self, sig: Signal) {
        kill(Pid::from_raw(self.pid() as i32), sig).unwrap();
    }

    /// Waits for the supervisor to exit (panics after `within`, with its output).
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let child = self.child.as_mut().unwrap();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "haimaker did not exit within {within:?}; output:\n{}",
                self.output.text()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every output line that is a JSON object (run with `JSON_LOGS=true`).
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.output
            .lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(serde_json::Value::is_object)
            .collect()
    }

    /// Pids of the children started so far, by role (`worker`, `standby`, `health`), from the
    /// JSON lifecycle lines.
    pub fn started_pids(&self, role: &str) -> Vec<u32> {
        self.json_lines()
            .iter()
            .filter(|l| {
                l["role"] == role
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("started "))
            })
            .filter_map(|l| l["pid"].as_u64())
            .map(|p| p as u32)
            .collect()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        let mut child = self.child.take().unwrap();
        let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        wait_with_deadline(&mut child, Duration::from_secs(40))
    }
}

fn wait_with_deadline(child: &mut Child, within: Duration) -> ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGINT);
            let _ = wait_with_deadline(&mut child, Duration::from_secs(10));
        }
    }
}
