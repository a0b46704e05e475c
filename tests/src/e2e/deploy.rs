//! The deployment artefacts (`deploy/`): the Dockerfile's command line run as a pod would run
//! it, the Helm chart linted and rendered with Helm's own code, the plain manifests of
//! `deploy/k8s/` in sync with the chart, and what the rendered objects must contain.
//!
//! `deploy/render.sh` provides Helm (v4's Go SDK, from the `helm-python-sdk` wheel) and the
//! Kubernetes schemas in its own virtualenv; `scripts/test.sh` creates it before the tests run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use serde_yaml::Value;

use crate::harness::python::repo_root;
use crate::harness::{Gateway, Resp, get, post, process_gone, wait_until};

const DEADLINE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The Dockerfile

/// The final stage of deploy/Dockerfile: its instructions with line continuations joined.
struct Dockerfile {
    stages: usize,
    instructions: Vec<(String, String)>,
}

impl Dockerfile {
    fn read() -> Self {
        let text = std::fs::read_to_string(repo_root().join("deploy/Dockerfile")).unwrap();
        let mut joined = Vec::new();
        let mut current = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            if let Some(head) = trimmed.strip_suffix('\\') {
                current.push_str(head);
                current.push(' ');
            } else {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
        let mut stages = 0;
        let mut instructions = Vec::new();
        for line in joined {
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            let word = word.to_ascii_uppercase();
            if word == "FROM" {
                stages += 1;
                instructions.clear();
            }
            instructions.push((word, rest.trim().to_string()));
        }
        Dockerfile {
            stages,
            instructions,
        }
    }

    fn all(&self, word: &str) -> Vec<&str> {
        self.instructions
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, rest)| rest.as_str())
            .collect()
    }

    /// The last `word` instruction in exec (JSON) form.
    fn exec_form(&self, word: &str) -> Vec<String> {
        let rest = self
            .all(word)
            .last()
            .copied()
            .unwrap_or_else(|| panic!("deploy/Dockerfile has no {word}"));
        serde_json::from_str(rest)
            .unwrap_or_else(|e| panic!("{word} must be in exec (JSON) form: {rest} ({e})"))
    }

    /// `ENV A=1 B=2` pairs of the final stage.
    fn env(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for rest in self.all("ENV") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("ENV must use KEY=value: {rest}"));
                out.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
        out
    }
}

/// The value after `flag` in `args`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

#[test]
fn the_image_is_multi_stage_non_root_and_exposes_the_health_port() {
    let df = Dockerfile::read();
    assert!(df.stages >= 2, "a build stage and a runtime stage");
    let user = df.all("USER");
    let user = user.last().expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "a numeric non-root USER (Kubernetes runAsNonRoot can only check a number): {user}"
    );
    let exposed: Vec<&str> = df
        .all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .collect();
    assert!(
        exposed.contains(&"4000") && exposed.contains(&"4001"),
        "{exposed:?}"
    );
    let env = df.env();
    assert_eq!(
        env.get("SEPARATE_HEALTH_APP").map(String::as_str),
        Some("1")
    );
    assert_eq!(
        env.get("SEPARATE_HEALTH_PORT").map(String::as_str),
        Some("4001")
    );
    assert_eq!(
        df.exec_form("ENTRYPOINT"),
        ["haimaker"],
        "one binary as the entry point"
    );
    let cmd = df.exec_form("CMD");
    assert_eq!(flag_value(&cmd, "--num_workers"), Some("auto"), "{cmd:?}");
    // The config the CMD names is the repo's config.yaml, copied into the image.
    let config = flag_value(&cmd, "--config").expect("CMD passes --config");
    assert!(
        df.all("COPY")
            .iter()
            .any(|c| *c == format!("config.yaml {config}")),
        "the image holds config.yaml at {config}"
    );
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l.trim() == "target"),
        ".dockerignore keeps target/ out of the build context"
    );
}

/// The pids of `pid`'s children.
fn children(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// GETs `url` until `done` holds for the response (panics after the deadline with the last one).
async fn get_until(url: &str, done: impl Fn(&Resp) -> bool) -> Resp {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let r = get(url, &[]).await;
        if done(&r) {
            return r;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url}: still {} {} after {DEADLINE:?}",
            r.status,
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// ENTRYPOINT + CMD of deploy/Dockerfile with its ENV, run outside a container: `haimaker` is
/// this build's binary, the image's config is the repo's config.yaml (the file the image
/// copies), and the ports 4000 and 4001 become free ones (0). Everything else is as in a pod.
#[tokio::test(flavor = "multi_thread")]
async fn the_dockerfile_command_line_starts_a_healthy_pod() {
    let df = Dockerfile::read();
    let mut argv = df.exec_form("ENTRYPOINT");
    argv.extend(df.exec_form("CMD"));
    assert_eq!(argv[0], "haimaker");
    let mut args: Vec<String> = argv[1..].to_vec();
    let mut replaced = (false, false);
    for i in 0..args.len().saturating_sub(1) {
        match args[i].as_str() {
            "--config" | "-c" => {
                args[i + 1] = repo_root().join("config.yaml").display().to_string();
                replaced.0 = true;
            }
            "--port" => {
                assert_eq!(args[i + 1], "4000");
                args[i + 1] = "0".to_string();
                replaced.1 = true;
            }
            _ => {}
        }
    }
    assert!(
        replaced.0 && replaced.1,
        "CMD has --config and --port: {argv:?}"
    );
    let mut env = df.env();
    assert_eq!(
        env.insert("SEPARATE_HEALTH_PORT".to_string(), "0".to_string()),
        Some("4001".to_string())
    );

    let mut builder = Gateway::builder_without_config()
        .without_default_addr()
        .without_num_workers();
    for a in &args {
        builder = builder.arg(a.clone());
    }
    for (k, v) in &env {
        builder = builder.env(k.clone(), v.clone());
    }
    let gw = builder.start();
    let main = format!("http://127.0.0.1:{}", gw.addr.port());
    let health_addr = gw.health_addr.unwrap_or_else(|| {
        panic!(
            "the image's environment starts the health process; output:\n{}",
            gw.output.text()
        )
    });
    let health = format!("http://127.0.0.1:{}", health_addr.port());

    // Readiness on the health port: every worker `--num_workers auto` asked for is ready.
    let ready = get_until(&format!("{health}/health/readiness"), |r| r.status == 200)
        .await
        .json();
    let desired = ready["workers"]["desired"].as_u64().unwrap();
    assert!(desired >= 1, "{ready}");
    assert_eq!(ready["workers"]["ready"].as_u64(), Some(desired), "{ready}");
    let live = get(&format!("{health}/health/liveliness"), &[]).await;
    assert_eq!(live.status, 200, "{}", live.text());
    // What the chart's prometheus.io/* annotations point at: /metrics on the health port (the
    // supervisor pushes the text there shortly after start).
    get_until(&format!("{health}/metrics"), |r| {
        r.status == 200 && r.text().contains("# TYPE ")
    })
    .await;

    // A chat completion through the main port, with the config's master key.
    let chat =
        json!({"model": "fake-openai-endpoint", "messages": [{"role": "user", "content": "hi"}]});
    let r = post(
        &format!("{main}/v1/chat/completions"),
        &[("authorization", "Bearer sk-1234")],
        chat.to_string(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.json()["choices"][0]["message"]["content"]
            .as_str()
            .is_some_and(|c| c.contains("mock deployment")),
        "{}",
        r.text()
    );

    // The process tree of a pod: the supervisor, `desired` workers and the health process.
    let kids = wait_until("the workers and the health process", DEADLINE, || {
        let kids: Vec<(u32, Vec<String>)> = children(gw.pid())
            .into_iter()
            .map(|p| (p, cmdline(p)))
            .collect();
        let workers = kids
            .iter()
            .filter(|(_, c)| c.iter().any(|a| a == "__worker"))
            .count();
        (workers as u64 == desired).then_some(kids)
    })
    .await;
    assert!(
        kids.iter().any(|(_, c)| c.iter().any(|a| a == "__health")),
        "{kids:?}"
    );

    // SIGTERM, as the kubelet sends it after the preStop pause: a clean drain, exit 0.
    let status = gw.terminate();
    assert_eq!(status.code(), Some(0), "{status:?}");
    for (pid, _) in &kids {
        wait_until("the children to be gone", DEADLINE, || {
            process_gone(*pid).then_some(())
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------------
// The chart and the plain manifests

/// Runs deploy/render.sh (one at a time within this test binary).
fn render_sh(args: &[&str]) -> String {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(repo_root().join("deploy/render.sh"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "deploy/render.sh {args:?} failed:\n{text}"
    );
    text
}

/// kind -> object, from every manifest in `dir`.
fn manifests(dir: &Path) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        // One object per file (render.py writes them so).
        let text = std::fs::read_to_string(&path).unwrap();
        let value: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = value["kind"].as_str().unwrap().to_string();
        let name = value["metadata"]["name"].as_str().unwrap().to_string();
        out.insert(format!("{kind}/{name}"), value);
    }
    out
}

/// Renders the chart with one of its ci/ values files.
fn render_variant(values: &str) -> (tempfile::TempDir, BTreeMap<String, Value>) {
    let dir = tempfile::tempdir().unwrap();
    let values = repo_root().join("deploy/helm/haimaker/ci").join(values);
    render_sh(&[
        "--values",
        values.to_str().unwrap(),
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    let objects = manifests(dir.path());
    (dir, objects)
}

fn k8s_dir() -> PathBuf {
    repo_root().join("deploy/k8s")
}

fn container(pod_spec: &Value) -> &Value {
    &pod_spec["containers"][0]
}

/// name -> env entry.
fn env_of(container: &Value) -> BTreeMap<String, Value> {
    container["env"]
        .as_sequence()
        .map(|s| {
            s.iter()
                .map(|e| (e["name"].as_str().unwrap().to_string(), e.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn env_value<'a>(env: &'a BTreeMap<String, Value>, name: &str) -> Option<&'a str> {
    env.get(name).and_then(|e| e["value"].as_str())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_mapping()
        .unwrap()
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn chart_lints_and_deploy_k8s_is_in_sync() {
    let out = render_sh(&["--check"]);
    assert!(out.contains("match the chart"), "{out}");
}

#[test]
fn the_deployment_probes_the_health_port_and_drains_before_it_is_killed() {
    let objects = manifests(&k8s_dir());
    let deployment = &objects["Deployment/haimaker"];
    let spec = &deployment["spec"];
    assert_eq!(spec["strategy"]["type"], "RollingUpdate");
    assert_eq!(spec["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    let pod = &spec["template"]["spec"];
    let c = container(pod);

    // The health process's port, and the probes on it.
    let ports = c["ports"].as_sequence().unwrap();
    let health = ports.iter().find(|p| p["name"] == "health").unwrap();
    assert_eq!(health["containerPort"], 4001);
    let http = ports.iter().find(|p| p["name"] == "http").unwrap();
    assert_eq!(http["containerPort"], 4000);
    for (probe, path) in [
        ("livenessProbe", "/health/liveliness"),
        ("readinessProbe", "/health/readiness"),
        ("startupProbe", "/health/liveliness"),
    ] {
        assert_eq!(c[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(c[probe]["httpGet"]["port"], "health", "{probe}");
    }

    // The image's entry point with the supervisor's flags.
    let args = strings(&c["args"]);
    assert_eq!(flag_value(&args, "--port"), Some("4000"), "{args:?}");
    assert_eq!(flag_value(&args, "--num_workers"), Some("auto"), "{args:?}");
    assert_eq!(
        flag_value(&args, "--config"),
        Some("/etc/haimaker/config.yaml")
    );
    let graceful: f64 = flag_value(&args, "--graceful_timeout")
        .expect("--graceful_timeout")
        .parse()
        .unwrap();

    // preStop pause, then SIGTERM; the grace period covers the pause and the whole drain.
    let pre_stop = strings(&c["lifecycle"]["preStop"]["exec"]["command"]);
    assert_eq!(pre_stop[0], "sleep");
    let pause: f64 = pre_stop[1].parse().unwrap();
    assert!(pause >= 1.0);
    let grace = pod["terminationGracePeriodSeconds"].as_f64().unwrap();
    assert!(
        grace > pause + graceful,
        "terminationGracePeriodSeconds {grace} must exceed preStop {pause} + --graceful_timeout {graceful}"
    );
    let env = env_of(c);
    assert_eq!(env_value(&env, "SEPARATE_HEALTH_APP"), Some("1"));
    assert_eq!(env_value(&env, "SEPARATE_HEALTH_PORT"), Some("4001"));
    assert_eq!(env_value(&env, "LITELLM_MODE"), Some("PRODUCTION"));
    assert_eq!(
        env_value(&env, "DISABLE_SCHEMA_UPDATE"),
        Some("true"),
        "the migrations Job owns the schema"
    );
    for (name, key) in [
        ("LITELLM_MASTER_KEY", "LITELLM_MASTER_KEY"),
        ("LITELLM_SALT_KEY", "LITELLM_SALT_KEY"),
        ("DATABASE_URL", "DATABASE_URL"),
    ] {
        let r = &env[name]["valueFrom"]["secretKeyRef"];
        assert_eq!(r["name"], "haimaker", "{name}");
        assert_eq!(r["key"], key, "{name}");
    }

    // Read-only root, non-root, /tmp writable (the spend spool), config mounted.
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let mounts = c["volumeMounts"].as_sequence().unwrap();
    let mount = |path: &str| {
        mounts
            .iter()
            .find(|m| m["mountPath"] == path)
            .unwrap_or_else(|| panic!("no mount at {path}"))["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let volumes = pod["volumes"].as_sequence().unwrap();
    let volume = |name: &str| volumes.iter().find(|v| v["name"] == name).unwrap().clone();
    assert!(volume(&mount("/tmp")).get("emptyDir").is_some());
    assert_eq!(
        volume(&mount("/etc/haimaker"))["configMap"]["name"],
        "haimaker-config"
    );

    // Prometheus scrapes /metrics from the health port.
    let annotations = &spec["template"]["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], "4001");
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    // The Service sends traffic to the main port of the serving pods only; the PDB covers them.
    let service = &objects["Service/haimaker"];
    let port = &service["spec"]["ports"][0];
    assert_eq!(port["port"], 4000);
    assert_eq!(port["targetPort"], "http");
    let pod_labels = &spec["template"]["metadata"]["labels"];
    assert!(labels_match(&service["spec"]["selector"], pod_labels));
    let pdb = &objects["PodDisruptionBudget/haimaker"];
    assert!(labels_match(
        &pdb["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    let job_pod_labels =
        &objects["Job/haimaker-migrations"]["spec"]["template"]["metadata"]["labels"];
    assert!(
        !labels_match(&service["spec"]["selector"], job_pod_labels),
        "the Service must not select the migrations pod"
    );
}

#[test]
fn the_migrations_job_is_a_helm_and_argo_cd_hook_that_runs_haimaker_migrate() {
    let objects = manifests(&k8s_dir());
    let job = &objects["Job/haimaker-migrations"];
    let annotations = &job["metadata"]["annotations"];
    assert_eq!(annotations["helm.sh/hook"], "pre-install,pre-upgrade");
    assert_eq!(annotations["argocd.argoproj.io/hook"], "PreSync");
    assert!(annotations["helm.sh/hook-delete-policy"].as_str().is_some());
    assert!(
        annotations["argocd.argoproj.io/hook-delete-policy"]
            .as_str()
            .is_some()
    );
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let c = container(pod);
    assert_eq!(strings(&c["args"]), ["migrate"]);
    let deployment = container(&objects["Deployment/haimaker"]["spec"]["template"]["spec"]).clone();
    assert_eq!(
        c["image"], deployment["image"],
        "the same image as the pods"
    );
    let env = env_of(c);
    assert_eq!(env_value(&env, "DISABLE_SCHEMA_UPDATE"), Some("false"));
    assert_eq!(
        env["DATABASE_URL"]["valueFrom"]["secretKeyRef"],
        env_of(&deployment)["DATABASE_URL"]["valueFrom"]["secretKeyRef"],
        "the Job migrates the database the pods use"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
}

#[test]
fn chart_values_variants_render_as_documented() {
    // The chart's own Secret: the Job reads the database URL from a hook Secret created before
    // it (the release's Secret does not exist yet on a first install).
    let (_dir, objects) = render_variant("chart-secret-values.yaml");
    let secret = &objects["Secret/haimaker"]["stringData"];
    assert_eq!(secret["LITELLM_MASTER_KEY"], "sk-ci-master-key");
    assert!(secret["LITELLM_SALT_KEY"].as_str().is_some());
    let hook = &objects["Secret/haimaker-migrations"];
    let weight = |o: &Value| {
        o["metadata"]["annotations"]["helm.sh/hook-weight"]
            .as_str()
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    let job = &objects["Job/haimaker-migrations"];
    assert!(weight(hook) < weight(job));
    assert_eq!(
        hook["metadata"]["annotations"]["argocd.argoproj.io/hook"],
        "PreSync"
    );
    assert_eq!(hook["stringData"]["DATABASE_URL"], secret["DATABASE_URL"]);
    let job_env = env_of(container(&job["spec"]["template"]["spec"]));
    assert_eq!(
        job_env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"],
        "haimaker-migrations"
    );

    // LiteLLM-style db.useExisting, Redis, HPA, recycling.
    let (_dir, objects) = render_variant("litellm-db-values.yaml");
    let deployment = &objects["Deployment/haimaker"];
    assert!(
        deployment["spec"].get("replicas").is_none(),
        "the HPA owns the replica count"
    );
    let hpa = &objects["HorizontalPodAutoscaler/haimaker"];
    assert_eq!(hpa["spec"]["minReplicas"], 3);
    assert_eq!(hpa["spec"]["maxReplicas"], 12);
    let c = container(&deployment["spec"]["template"]["spec"]);
    let env = env_of(c);
    assert_eq!(
        env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"],
        "postgres"
    );
    assert_eq!(
        env_value(&env, "DATABASE_HOST"),
        Some("postgres.db.svc:5432")
    );
    assert!(
        !env.contains_key("DATABASE_URL"),
        "haimaker builds it, password encoded"
    );
    assert_eq!(env_value(&env, "REDIS_HOST"), Some("redis.cache.svc"));
    assert_eq!(env_value(&env, "REDIS_PORT"), Some("6379"));
    assert!(env["REDIS_PASSWORD"].get("valueFrom").is_some());
    let args = strings(&c["args"]);
    assert_eq!(flag_value(&args, "--num_workers"), Some("2"));
    assert_eq!(
        flag_value(&args, "--max_requests_before_restart"),
        Some("10000")
    );
    let job_env = env_of(container(
        &objects["Job/haimaker-migrations"]["spec"]["template"]["spec"],
    ));
    assert_eq!(
        job_env["DATABASE_USERNAME"]["valueFrom"]["secretKeyRef"]["name"],
        "postgres"
    );
    assert!(
        objects["ConfigMap/haimaker-config"]["data"]["config.yaml"]
            .as_str()
            .unwrap()
            .starts_with("# comments survive")
    );

    // No database: nothing to migrate, pods do not wait for a schema.
    let (_dir, objects) = render_variant("no-database-values.yaml");
    assert!(!objects.contains_key("Job/haimaker-migrations"));
    assert!(!objects.contains_key("PodDisruptionBudget/haimaker"));
    let deployment = &objects["Deployment/haimaker"];
    let env = env_of(container(&deployment["spec"]["template"]["spec"]));
    assert!(!env.contains_key("DISABLE_SCHEMA_UPDATE"));
    assert!(!env.contains_key("DATABASE_URL"));
    assert!(
        deployment["spec"]["template"]["metadata"]["annotations"]
            .get("prometheus.io/scrape")
            .is_none()
    );
}

/// The chart's default config.yaml goes through the real loader without errors or "not
/// implemented yet" warnings.
#[test]
fn the_config_the_chart_ships_is_valid() {
    let objects = manifests(&k8s_dir());
    let config = objects["ConfigMap/haimaker-config"]["data"]["config.yaml"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, out) = Gateway::builder(&config)
        .env("LITELLM_MASTER_KEY", "sk-from-the-secret")
        .arg("--validate_config")
        .run_to_exit();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("valid (1 deployment, 1 model group)"), "{out}");
    assert!(!out.contains("warning"), "{out}");
}
