//! The process model: the worker pool on one socket, recycling without a dropped request, the
//! health process, teardown and signals (DESIGN.md section 3).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;
use tokio::sync::Notify;

use crate::harness::mock::chunk_event;
use crate::harness::{
    Gateway, GatewayBuilder, MockUpstream, Reply, SseEnd, SseStep, get, listening_sockets, post,
    post_stream, process_gone, refuses, wait_until,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn config(mock: &MockUpstream) -> String {
    format!(
        "model_list:\n  - model_name: g\n    litellm_params:\n      model: openai/m\n      api_base: {}\n",
        mock.url()
    )
}

fn chat() -> String {
    json!({"model": "g", "messages": [{"role": "user", "content": "hi"}]}).to_string()
}

/// JSON logs, fast heartbeats, the health process on a free port.
fn fleet(mock: &MockUpstream, workers: usize) -> GatewayBuilder {
    Gateway::builder(&config(mock))
        .workers(workers)
        .env("JSON_LOGS", "true")
        .env("SEPARATE_HEALTH_APP", "1")
        .env("SEPARATE_HEALTH_PORT", "0")
        .env("HAIMAKER_HEARTBEAT_INTERVAL_MS", "100")
        .env("HAIMAKER_HEARTBEAT_STALE_MS", "700")
}

/// The worker pids that served requests, from the JSON access lines.
fn serving_pids(gw: &Gateway) -> HashSet<u64> {
    gw.json_lines()
        .iter()
        .filter(|l| l["path"] == "/v1/chat/completions" && l["status"] == 200)
        .filter_map(|l| l["pid"].as_u64())
        .collect()
}

async fn access_lines(gw: &Gateway, n: usize) {
    wait_until("access lines", DEADLINE, || {
        let seen = gw
            .json_lines()
            .iter()
            .filter(|l| l["path"] == "/v1/chat/completions")
            .count();
        (seen >= n).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_serve_from_the_one_socket_the_supervisor_bound() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2).start();
    assert_eq!(gw.started_pids("worker").len(), 2);
    assert_eq!(
        listening_sockets(gw.addr.port()),
        1,
        "one socket, shared by every worker"
    );
    let url = gw.url("/v1/chat/completions");
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                assert_eq!(post(&url, &[], chat()).await.status, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    access_lines(&gw, 160).await;
    let served_by = serving_pids(&gw);
    let workers: HashSet<u64> = gw
        .started_pids("worker")
        .iter()
        .map(|p| u64::from(*p))
        .collect();
    assert_eq!(served_by, workers, "both workers accepted connections");
}

async fn assert_teardown(mut gw: Gateway, victim: u32, mut all: Vec<u32>) {
    kill(Pid::from_raw(victim as i32), Signal::SIGKILL).unwrap();
    let status = gw.wait_exit(DEADLINE);
    assert!(
        !status.success(),
        "the supervisor must exit non-zero: {status:?}"
    );
    let text = gw.output.text();
    let teardown = gw
        .json_lines()
        .into_iter()
        .find(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("teardown"))
        })
        .unwrap_or_else(|| panic!("no teardown line:\n{text}"));
    assert_eq!(teardown["pid"], victim, "{teardown}");
    assert!(
        teardown["status"].as_str().unwrap().contains("SIGKILL"),
        "{teardown}"
    );
    all.push(gw.pid());
    wait_until("every process of the tree to be gone", DEADLINE, || {
        all.iter().all(|p| process_gone(*p)).then_some(())
    })
    .await;
    assert!(refuses(gw.addr), "the main port still accepts");
    assert!(
        refuses(gw.health_addr.unwrap()),
        "the health port still accepts"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_takes_the_whole_tree_down() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2).start();
    let workers = gw.started_pids("worker");
    let mut all = workers.clone();
    all.extend(gw.started_pids("health"));
    assert_teardown(gw, workers[1], all).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_health_process_takes_the_whole_tree_down() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2).start();
    let health = gw.started_pids("health");
    assert_eq!(health.len(), 1);
    let mut all = gw.started_pids("worker");
    all.extend(&health);
    assert_teardown(gw, health[0], all).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_supervisor_leaves_no_child_behind() {
    let mock = MockUpstream::start().await;
    let mut gw = fleet(&mock, 2)
        .arg("--max_requests_before_restart")
        .arg("100")
        .start();
    let mut children = gw.started_pids("worker");
    children.extend(gw.started_pids("health"));
    children.extend(gw.started_pids("standby"));
    assert_eq!(
        children.len(),
        4,
        "two workers, the standby and the health process"
    );
    gw.signal(Signal::SIGKILL);
    gw.wait_exit(DEADLINE);
    wait_until("every child to be gone", DEADLINE, || {
        children.iter().all(|p| process_gone(*p)).then_some(())
    })
    .await;
    let main = gw.addr;
    wait_until("the port to refuse connections", DEADLINE, || {
        refuses(main).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn recycling_every_five_requests_loses_nothing_sequentially() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2)
        .arg("--max_requests_before_restart")
        .arg("5")
        .arg("--min_worker_lifetime")
        .arg("0")
        .start();
    for i in 0..100 {
        let resp = post(&gw.url("/v1/chat/completions"), &[], chat()).await;
        assert_eq!(resp.status, 200, "request {i}: {}", resp.text());
    }
    access_lines(&gw, 100).await;
    // A worker past its budget keeps serving until its replacement is ready, which on a
    // loaded machine can take a few requests: count recycles loosely.
    let pids = serving_pids(&gw);
    assert!(
        pids.len() >= 8,
        "only {} distinct workers served 100 requests",
        pids.len()
    );
    let recycled = gw
        .json_lines()
        .iter()
        .filter(|l| l["status"] == "exit code 3")
        .count();
    assert!(recycled >= 6, "{recycled} workers exited after recycling");
    assert!(
        !gw.output
            .lines()
            .iter()
            .any(|l| l.contains("not implemented") && l.contains("--max_requests_before_restart")),
        "recycling is implemented: its flag must not be listed as ignored"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recycling_under_sixteen_concurrent_clients_loses_nothing() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2)
        .arg("--max_requests_before_restart")
        .arg("5")
        .arg("--min_worker_lifetime")
        .arg("0")
        .start();
    let url = gw.url("/v1/chat/completions");
    let mut tasks = Vec::new();
    for client in 0..16 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..15 {
                let resp = post(&url, &[], chat()).await;
                assert_eq!(
                    resp.status,
                    200,
                    "client {client} request {i}: {}",
                    resp.text()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    access_lines(&gw, 240).await;
    assert!(
        serving_pids(&gw).len() >= 3,
        "recycling happened under load"
    );
}

fn gated_stream(mock: &MockUpstream) -> Arc<Notify> {
    let gate = Arc::new(Notify::new());
    mock.on(
        "m",
        Reply::Sse {
            steps: vec![
                SseStep::Send(chunk_event("before")),
                SseStep::Gate(Arc::clone(&gate)),
                SseStep::Send(chunk_event("after")),
                SseStep::Send("data: [DONE]\n\n".into()),
            ],
            end: SseEnd::Close,
        },
    );
    gate
}

fn stream_body() -> String {
    json!({"model": "g", "stream": true, "messages": []}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_in_flight_finishes_whole_while_its_worker_recycles() {
    let mock = MockUpstream::start().await;
    let gate = gated_stream(&mock);
    let gw = fleet(&mock, 1)
        .arg("--max_requests_before_restart")
        .arg("1")
        .arg("--min_worker_lifetime")
        .arg("0")
        .start();
    let first_worker = gw.started_pids("worker")[0];
    let mut stream = post_stream(&gw.url("/v1/chat/completions"), &[], stream_body()).await;
    let first = stream.next_chunk(DEADLINE).await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("before"));
    // A second request completes on the same worker: its budget of 1 is spent and it is
    // recycled while the stream is still open.
    let quick = post(&gw.url("/v1/chat/completions"), &[], chat_without_stream()).await;
    assert_eq!(quick.status, 200);
    wait_until("the worker to start draining", DEADLINE, || {
        gw.json_lines()
            .iter()
            .any(|l| {
                l["pid"] == first_worker
                    && l["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(": draining"))
            })
            .then_some(())
    })
    .await;
    gate.notify_one();
    let rest = stream.rest().await;
    assert!(
        rest.contains("after") && rest.trim_end().ends_with("data: [DONE]"),
        "{rest}"
    );
    wait_until("the recycled worker to exit with code 3", DEADLINE, || {
        gw.json_lines()
            .iter()
            .any(|l| l["pid"] == first_worker && l["status"] == "exit code 3")
            .then_some(())
    })
    .await;
    assert_eq!(
        post(&gw.url("/v1/chat/completions"), &[], chat_without_stream())
            .await
            .status,
        200
    );
}

/// A request answered by the mock deployment path (no upstream call).
fn chat_without_stream() -> String {
    json!({"model": "g", "messages": [], "mock_response": "quick"}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_a_stream_in_flight_and_readiness_turns_503_at_once() {
    let mock = MockUpstream::start().await;
    let gate = gated_stream(&mock);
    let mut gw = fleet(&mock, 2).start();
    assert_eq!(
        get(&gw.health_url("/health/readiness"), &[]).await.status,
        200
    );
    let mut stream = post_stream(&gw.url("/v1/chat/completions"), &[], stream_body()).await;
    stream.next_chunk(DEADLINE).await.unwrap().unwrap();
    gw.signal(Signal::SIGTERM);
    poll_status(&gw.health_url("/health/readiness"), 503).await;
    let body = get(&gw.health_url("/health/readiness"), &[]).await.json();
    assert!(
        body["reason"].as_str().unwrap().contains("draining"),
        "{body}"
    );
    gate.notify_one();
    let rest = stream.rest().await;
    assert!(rest.trim_end().ends_with("data: [DONE]"), "{rest}");
    let status = gw.wait_exit(DEADLINE);
    assert_eq!(status.code(), Some(0), "{}", gw.output.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn readiness_counts_ready_workers_and_liveness_follows_heartbeats() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2).start();
    let health = |path: &str| gw.health_url(path);
    let ready = get(&health("/health/readiness"), &[]).await;
    assert_eq!(ready.status, 200, "{}", ready.text());
    assert_eq!(ready.json()["workers"]["ready"], 2);
    assert_eq!(
        get(&health("/health/liveliness"), &[]).await.text(),
        "\"I'm alive!\""
    );

    let workers = gw.started_pids("worker");
    // One worker stops: fewer than the desired number are ready.
    kill(Pid::from_raw(workers[0] as i32), Signal::SIGSTOP).unwrap();
    poll_status(&health("/health/readiness"), 503).await;
    assert_eq!(
        get(&health("/health/liveness"), &[]).await.status,
        200,
        "one worker is still alive"
    );
    // Every worker stops: the health process still answers, and liveness fails.
    kill(Pid::from_raw(workers[1] as i32), Signal::SIGSTOP).unwrap();
    poll_status(&health("/health/liveliness"), 503).await;
    let dead = get(&health("/health/liveliness"), &[]).await;
    assert!(
        dead.json()["reason"]
            .as_str()
            .unwrap()
            .contains("heartbeat"),
        "{}",
        dead.text()
    );
    for pid in &workers {
        kill(Pid::from_raw(*pid as i32), Signal::SIGCONT).unwrap();
    }
    poll_status(&health("/health/liveliness"), 200).await;
    poll_status(&health("/health/readiness"), 200).await;
}

/// Polls `url` until it answers `status` (each probe itself must answer quickly).
async fn poll_status(url: &str, status: u16) {
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let started = std::time::Instant::now();
        let got = get(url, &[]).await.status;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a probe took {:?}",
            started.elapsed()
        );
        if got == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{url} never answered {status} (last {got})"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_started_together_get_different_budgets() {
    let mock = MockUpstream::start().await;
    let gw = fleet(&mock, 2)
        .arg("--max_requests_before_restart")
        .arg("5")
        .arg("--max_requests_before_restart_jitter")
        .arg("10")
        .start();
    let budgets: Vec<u64> = gw
        .json_lines()
        .iter()
        .filter(|l| {
            l["role"] == "worker"
                && l["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("started "))
        })
        .filter_map(|l| l["budget"].as_u64())
        .collect();
    assert_eq!(budgets.len(), 2, "{}", gw.output.text());
    assert_ne!(
        budgets[0], budgets[1],
        "workers started together must not recycle together"
    );
    assert!(budgets.iter().all(|b| (5..=15).contains(b)), "{budgets:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn num_workers_auto_uses_the_cpu_allowance() {
    let mock = MockUpstream::start().await;
    let gw = Gateway::builder(&config(&mock))
        .without_num_workers()
        .arg("--num_workers")
        .arg("auto")
        .env("JSON_LOGS", "true")
        .start();
    let n = gw.started_pids("worker").len();
    assert!(
        n >= 1 && n <= std::thread::available_parallelism().unwrap().get(),
        "{n}"
    );
}
