//! An LLM call from request to response: resolve the model group, try deployments with
//! retries, fall back to other groups, and answer with the upstream's response (buffered JSON,
//! a relayed stream, or a mock) plus the `x-litellm-*` headers.
//!
//! Retries and fallbacks happen only before the first response byte: once a stream's head
//! is accepted, the request is committed to that deployment.

use std::sync::Arc;
use std::time::Duration;

use haimaker_openai::Usage;
use haimaker_pricing::TokenUsage;
use haimaker_router::{
    Deployment, ErrorClass, Group, NoHealthyDeployment, PickContext, Router, Target,
};
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::alerts;
use super::attempt::{self, Attempted, Reply};
use super::auth::Caller;
use super::cache;
use super::charge::{Billed, Charge};
use super::enforce::{self, Admission};
use super::request::LlmRequest;
use super::reserve;
use super::respond::{self, CallReport};
use super::stream::{OnFinish, SseRelay, StreamOutcome};
use super::{Body, RequestCtx, mock};
use crate::error::ProxyError;
use crate::metrics::{self, CallLabels};
use crate::shared::routing;
use crate::state::{AppState, InFlight};
use haimaker_metrics::ModelSample;

/// A request that got an answer.
struct Done {
    attempted: Attempted,
    deployment: Arc<Deployment>,
    /// Counts the call as in flight on its deployment (least-busy routing) until the
    /// response is complete, streams included.
    busy: crate::shared::routing::Call,
    target: Target,
    group: String,
    timeout: Duration,
    retries: u32,
    fallbacks: u32,
    max_fallbacks: u32,
}

/// A request that got none.
struct Failed {
    error: ProxyError,
    deployment: Option<Arc<Deployment>>,
    group: String,
    retries: u32,
    fallbacks: u32,
}

pub async fn serve(
    state: &AppState,
    ctx: &RequestCtx,
    request: LlmRequest,
    in_flight: InFlight,
    caller: &Caller,
    labels: &CallLabels,
) -> Result<Response<Body>, ProxyError> {
    let shared_router = state.router();
    let router = shared_router.as_ref();
    let Some(group) = router.resolve(&request.model) else {
        return Err(ProxyError::bad_request(format!(
            "{}: Invalid model name passed in model={}. Call `/v1/models` to view available models for your key.",
            request.call.route_name(),
            request.model
        ))
        .with_param("model"));
    };
    let worst_case = || {
        reserve::worst_case(
            router,
            &group,
            &request,
            state.prices(),
            state.reserve_max_tokens,
        )
    };
    let ask = enforce::Ask {
        requested: &request.model,
        group: group.name,
        default_parallel: state.default_key_parallel,
        worst_case: &worst_case,
    };
    enforce::cache_controls_allowed(caller, &request.cache.named)?;
    let admission = enforce::admit(caller, state.db.as_deref(), state.shared.as_ref(), &ask)
        .await
        .inspect_err(|e| alerts::refused(state, caller, e))?;
    let charge = Charge::new(state.db.as_ref(), ctx, caller, &request);
    let cache = match cache::lookup(state, &request, group.name).await {
        cache::Lookup::Hit(hit) => return Ok(hit.respond(state, ctx, &request, admission, charge)),
        cache::Lookup::Miss(store) => store,
    };
    match route_call(state, router, &request, group).await {
        Ok(done) => {
            let api_base = done.target.api_base.as_deref();
            alerts::call_answered(
                state,
                &request,
                caller,
                ctx.start,
                &done.group,
                &done.deployment,
                api_base,
            );
            let response = respond_success(
                state,
                ctx,
                &request,
                done,
                Finish {
                    router: Arc::clone(&shared_router),
                    in_flight,
                    admission,
                    charge,
                    cache,
                    labels: labels.clone(),
                },
            );
            alerts::budgets(state, caller);
            Ok(response)
        }
        Err(failed) => {
            let deployment = failed.deployment.as_deref();
            alerts::call_failed(
                state,
                &request,
                caller,
                &failed.error,
                deployment,
                &failed.group,
            );
            if let Some(charge) = charge {
                let model_id = failed.deployment.as_ref().map_or("", |d| d.id.as_str());
                charge.failure(&failed.error, &failed.group, model_id);
            }
            let mut err = with_failure_headers(state, failed);
            if let Some(remaining) = &admission.remaining {
                err.headers.extend(enforce::ratelimit_headers(remaining));
            }
            Err(err)
        }
    }
}

async fn route_call(
    state: &AppState,
    router: &Router,
    request: &LlmRequest,
    first: Group<'_>,
) -> Result<Done, Failed> {
    let mut retries = 0;
    let first_failure = match try_group(state, router, request, &first, true, &mut retries).await {
        Ok(done) => return Ok(done),
        Err(failed) => failed,
    };
    let Some(class) = first_failure.error.class else {
        return Err(first_failure);
    };
    let policy = router.policy();
    let groups = policy.fallbacks_for(first.name, class.into(), request.fallbacks.as_deref());
    if groups.is_empty() {
        return Err(first_failure);
    }
    let mut fallbacks = 0;
    for name in &groups {
        let Some(group) = router.resolve(name) else {
            tracing::warn!(target: "haimaker::router", fallback = %name, "fallback model group does not exist");
            continue;
        };
        fallbacks += 1;
        if let Ok(mut done) = try_group(state, router, request, &group, false, &mut retries).await {
            done.fallbacks = fallbacks;
            alerts::fallback_used(state, first.name, name, &first_failure.error, fallbacks);
            return Ok(done);
        }
    }
    let mut failed = first_failure;
    failed.error.message = format!(
        "{}\nReceived Model Group={}\nAvailable Model Group Fallbacks={:?}",
        failed.error.message, first.name, groups
    );
    failed.retries = retries;
    failed.fallbacks = fallbacks;
    Err(failed)
}

/// Tries the deployments of one group, with the router's retries.
async fn try_group(
    state: &AppState,
    router: &Router,
    request: &LlmRequest,
    group: &Group<'_>,
    original: bool,
    retries: &mut u32,
) -> Result<Done, Failed> {
    let policy = router.policy();
    let base_retries = request.num_retries.unwrap_or(policy.num_retries);
    let request_timeout = if request.stream {
        request.stream_timeout.or(request.timeout)
    } else {
        request.timeout
    };
    let mut tried = Vec::new();
    let mut last: Option<Failed> = None;
    let mut attempt_no = 0u32;
    let input_tokens = request.estimated_input_tokens();
    // Deployments found at their rpm/tpm limit during this request, and why.
    let mut full: Vec<usize> = Vec::new();
    let mut full_reason: Option<routing::Full> = None;
    loop {
        let pick = PickContext {
            tried: &tried,
            input_tokens,
            prices: Some(state.prices()),
        };
        let deployment = match router.pick_with(group, &pick, &mut rand::rng()) {
            Ok(d) => d,
            Err(none) => {
                return Err(last.unwrap_or_else(|| Failed {
                    error: no_healthy(group, &none),
                    deployment: None,
                    group: group.name.to_string(),
                    retries: *retries,
                    fallbacks: 0,
                }));
            }
        };
        if full.contains(&deployment.index) {
            // Every deployment that could take the call is at its rpm/tpm limit.
            return Err(last.unwrap_or_else(|| Failed {
                error: deployment_full(group, &full_reason),
                deployment: Some(Arc::clone(&deployment)),
                group: group.name.to_string(),
                retries: *retries,
                fallbacks: 0,
            }));
        }
        tried.push(deployment.index);
        if let Err(reason) = routing::admit_deployment(state, router, &deployment).await {
            full.push(deployment.index);
            full_reason = Some(reason);
            continue;
        }
        let busy = routing::call_started(state, router, &deployment);
        let target = deployment.target(group.requested, state.prices());
        let timeout = policy.timeout_for(
            request_timeout,
            deployment.timeout,
            deployment.stream_timeout,
            request.stream,
        );
        let hanging = alerts::track(state, group.name, &deployment, &target);
        let result = if original && request.mock_testing_fallbacks {
            Err(ProxyError::internal(format!(
                "litellm.InternalServerError: This is a mock exception for model={}, to trigger a fallback.",
                group.name
            ))
            .with_class(ErrorClass::InternalServer))
        } else {
            attempt::call(state, request, &deployment, &target, timeout).await
        };
        drop(hanging);
        match result {
            Ok(attempted) => {
                router.record_success(&deployment);
                return Ok(Done {
                    attempted,
                    deployment,
                    busy,
                    target,
                    group: group.name.to_string(),
                    timeout,
                    retries: *retries,
                    fallbacks: 0,
                    max_fallbacks: policy.max_fallbacks,
                });
            }
            Err(error) => {
                let mut allowed = 0;
                alerts::attempt_failed(state, &deployment, &target, &error);
                let failed_on = metrics::deployment_labels(&deployment, Some(&target));
                state
                    .metrics
                    .recorder
                    .deployment_failure(failed_on.clone(), error.status.as_u16());
                if let Some(class) = error.class {
                    if let Some(cooldown) = router.record_failure(&deployment, class) {
                        routing::cooled_down(
                            state,
                            &deployment,
                            cooldown,
                            error.status.as_u16(),
                            &error.message,
                        );
                        let status = error.status.as_u16();
                        state.metrics.recorder.cooled_down(failed_on, status);
                        alerts::cooled_down(
                            state,
                            &deployment,
                            &target,
                            cooldown,
                            status,
                            &error.message,
                        );
                        tracing::warn!(
                            target: "haimaker::router",
                            deployment = %deployment.id,
                            model_group = %deployment.model_name,
                            cooldown_s = cooldown.as_secs_f64(),
                            "deployment cooled down"
                        );
                    }
                    if !(original && request.mock_testing_fallbacks) {
                        allowed = policy.retries_for(class, base_retries, group.members.len());
                    }
                }
                let retry_after = error.retry_after;
                let failed = Failed {
                    error,
                    deployment: Some(Arc::clone(&deployment)),
                    group: group.name.to_string(),
                    retries: *retries,
                    fallbacks: 0,
                };
                if attempt_no >= allowed {
                    return Err(failed);
                }
                let other = router.has_other_healthy(group, deployment.index);
                let delay = policy.retry_delay(attempt_no, other, retry_after, rand::random());
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                attempt_no += 1;
                *retries += 1;
                last = Some(failed);
            }
        }
    }
}

fn deployment_full(group: &Group<'_>, reason: &Option<routing::Full>) -> ProxyError {
    let (message, retry_after) = match reason {
        Some(full) => (full.message.clone(), full.retry_after),
        None => (
            format!(
                "No deployments available for selected model. Passed model={}",
                group.name
            ),
            Duration::from_secs(60),
        ),
    };
    let mut err = ProxyError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit_error", message);
    err.retry_after = Some(retry_after);
    err
}

fn no_healthy(group: &Group<'_>, none: &NoHealthyDeployment) -> ProxyError {
    if let Some(over) = &none.over_limit {
        let mut err = ProxyError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            over.message(group.name),
        );
        err.retry_after = Some(none.retry_in);
        return err;
    }
    let mut err = ProxyError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        format!(
            "No deployments available for selected model, Try again in {} seconds. Passed model={}. pre-call-checks=False, cooldown_list={:?}",
            crate::error::format_secs(none.retry_in),
            group.name,
            none.cooldown_list
        ),
    );
    err.retry_after = Some(none.retry_in);
    err
}

fn with_failure_headers(state: &AppState, failed: Failed) -> ProxyError {
    let mut err = failed.error;
    let report = CallReport {
        model_id: failed.deployment.as_ref().map(|d| d.id.as_str()),
        model_group: Some(failed.group.as_str()),
        attempted_retries: failed.retries,
        attempted_fallbacks: failed.fallbacks,
        ..CallReport::default()
    };
    let mut headers = http::HeaderMap::new();
    report.apply(&mut headers, &state.version);
    // Durations are meaningless on a failure; keep the counters and ids.
    headers.remove("x-litellm-response-duration-ms");
    headers.remove("x-litellm-overhead-duration-ms");
    for (name, value) in headers {
        if let Some(name) = name {
            err.headers.push((name, value));
        }
    }
    err
}

/// What a successful call still owes when its response is complete: the router's load
/// accounting, the key's parallel slot, the worker's in-flight count, and the spend row.
struct Finish {
    router: Arc<Router>,
    in_flight: InFlight,
    admission: Admission,
    charge: Option<Charge>,
    /// Stores the answer in the response cache (a miss that may be cached).
    cache: Option<cache::Store>,
    labels: CallLabels,
}

/// Ends the admission of a finished call: its tokens count against the tpm limits, its cost
/// settles the budget reservation, and its parallel slots are freed.
fn settle(
    permit: Option<enforce::Permit>,
    budget: Option<reserve::BudgetHold>,
    usage: Option<&Usage>,
    cost: f64,
) {
    if let (Some(permit), Some(usage)) = (&permit, usage) {
        permit.add_tokens(usage.prompt() + usage.completion());
    }
    if let Some(budget) = &budget {
        budget.charge(cost);
    }
}

/// Seconds per completion token, LiteLLM's latency measure for a buffered response.
fn per_token(upstream: Duration, usage: Option<&Usage>) -> f64 {
    let tokens = usage.map_or(0, Usage::completion).max(1);
    upstream.as_secs_f64() / tokens as f64
}

fn respond_success(
    state: &AppState,
    ctx: &RequestCtx,
    request: &LlmRequest,
    done: Done,
    finish: Finish,
) -> Response<Body> {
    let Finish {
        router,
        in_flight,
        admission,
        charge,
        cache,
        labels,
    } = finish;
    let Done {
        attempted,
        deployment,
        busy,
        target,
        group,
        timeout,
        retries,
        fallbacks,
        max_fallbacks,
    } = done;
    let deployment_labels = metrics::deployment_labels(&deployment, Some(&target));
    let mut report = CallReport {
        model_id: Some(&deployment.id),
        model_group: Some(&group),
        api_base: target.api_base.as_deref(),
        response_cost: None,
        total: Duration::ZERO,
        upstream: attempted.upstream_time,
        attempted_retries: retries,
        attempted_fallbacks: fallbacks,
        max_fallbacks: Some(max_fallbacks),
        timeout: Some(timeout),
    };
    let billed = Billed {
        model: &target.provider_model,
        model_id: &deployment.id,
        model_group: &group,
        provider: target.provider.name,
        api_base: target.api_base.as_deref().unwrap_or(""),
    };
    let Admission {
        permit,
        remaining,
        key_spend,
        key_max_budget,
        budget,
    } = admission;
    let mut response = match attempted.reply {
        Reply::Json {
            headers,
            body,
            usage,
        } => {
            let call_cost = cost(&target, usage.as_ref());
            report.response_cost = Some(call_cost);
            let total = ctx.start.elapsed().as_secs_f64();
            let upstream = attempted.upstream_time.as_secs_f64();
            metrics::upstream_remaining(&state.metrics, &group, &deployment_labels, &headers);
            labels.succeeded(
                &state.metrics,
                &group,
                deployment_labels,
                &sample(call_cost, usage.as_ref(), total, Some(upstream), None),
                key_spend,
            );
            routing::call_succeeded(
                state.shared.as_ref(),
                &router,
                &deployment,
                usage.as_ref(),
                per_token(attempted.upstream_time, usage.as_ref()),
            );
            drop(busy);
            settle(permit, budget, usage.as_ref(), call_cost);
            if let Some(charge) = charge {
                charge.success(&billed, usage.as_ref(), call_cost, None);
            }
            if let Some(store) = cache {
                store.json(&group, body.clone());
            }
            let mut response = respond::json(StatusCode::OK, body);
            append_provider_headers(&mut response, &headers);
            response
        }
        Reply::Mock { text } => {
            // Nothing was called: there is no upstream base to report.
            report.api_base = None;
            let model = target.provider_model.as_str();
            let call_cost = cost(&target, Some(&mock::MOCK_USAGE));
            report.response_cost = Some(call_cost);
            let total = ctx.start.elapsed().as_secs_f64();
            labels.succeeded(
                &state.metrics,
                &group,
                deployment_labels,
                &sample(call_cost, Some(&mock::MOCK_USAGE), total, None, None),
                key_spend,
            );
            if let Some(charge) = charge {
                let local = Billed {
                    api_base: "",
                    ..billed.clone()
                };
                charge.success(&local, Some(&mock::MOCK_USAGE), call_cost, None);
            }
            settle(permit, budget, Some(&mock::MOCK_USAGE), call_cost);
            if request.stream {
                sse_response(respond::full(mock::stream(
                    request.call,
                    model,
                    &text,
                    &ctx.call_id,
                    request.include_usage,
                )))
            } else {
                let inputs = request
                    .body
                    .typed::<serde_json::Value>("input", "")
                    .ok()
                    .flatten()
                    .and_then(|v| v.as_array().map(Vec::len))
                    .unwrap_or(1);
                respond::json(
                    StatusCode::OK,
                    mock::response(request.call, model, &text, &ctx.call_id, inputs),
                )
            }
        }
        Reply::Stream {
            headers,
            body,
            idle,
            translate,
        } => {
            let describe = format!("(model group `{}`, deployment {})", group, deployment.id);
            metrics::upstream_remaining(&state.metrics, &group, &deployment_labels, &headers);
            // The stream is charged when it ends (its usage arrives last); the key's parallel
            // slot is held until then.
            let stream_target = target.clone();
            let owned = OwnedBilled::from(&billed);
            let started = ctx.start;
            let deployment = Arc::clone(&deployment);
            let shared = state.shared.clone();
            let metrics = Arc::clone(&state.metrics);
            let stream_group = group.clone();
            let on_finish: OnFinish = Box::new(move |outcome: StreamOutcome| {
                let _busy = busy;
                let call_cost = cost(&stream_target, outcome.usage.as_ref());
                settle(permit, budget, outcome.usage.as_ref(), call_cost);
                if outcome.completed {
                    // Time to first token: LiteLLM's latency measure for streams.
                    let ttft = outcome
                        .first_byte_at
                        .map_or(started.elapsed(), |at| at.duration_since(started));
                    let total = started.elapsed().as_secs_f64();
                    labels.succeeded(
                        &metrics,
                        &stream_group,
                        deployment_labels,
                        &sample(
                            call_cost,
                            outcome.usage.as_ref(),
                            total,
                            Some(total),
                            Some(ttft.as_secs_f64()),
                        ),
                        key_spend,
                    );
                    routing::call_succeeded(
                        shared.as_ref(),
                        &router,
                        &deployment,
                        outcome.usage.as_ref(),
                        ttft.as_secs_f64(),
                    );
                }
                if let Some(charge) = charge {
                    charge.success(
                        &owned.as_billed(),
                        outcome.usage.as_ref(),
                        call_cost,
                        outcome.first_byte,
                    );
                }
            });
            let mut relay = SseRelay::new(
                body,
                idle,
                !request.include_usage,
                describe,
                Some(in_flight),
                Some(on_finish),
            );
            if let Some(store) = cache {
                relay.set_collector(store.collector(&group));
            }
            if let Some(translate) = translate {
                relay.set_translator(translate);
            }
            let mut response = sse_response(relay.boxed_unsync());
            append_provider_headers(&mut response, &headers);
            response
        }
    };
    report.total = ctx.start.elapsed();
    report.apply(response.headers_mut(), &state.version);
    let headers = response.headers_mut();
    if let Some(spend) = key_spend {
        let spend = spend + report.response_cost.unwrap_or(0.0);
        if let Ok(v) = HeaderValue::from_str(&spend.to_string()) {
            headers.insert("x-litellm-key-spend", v);
        }
    }
    if let Some(max) = key_max_budget
        && let Ok(v) = HeaderValue::from_str(&max.to_string())
    {
        headers.insert("x-litellm-key-max-budget", v);
    }
    if let Some(remaining) = &remaining {
        for (name, value) in enforce::ratelimit_headers(remaining) {
            headers.insert(name, value);
        }
    }
    response
}

/// One successful call's measurements. `added_latency` (what the gateway added to the
/// upstream's time) is known for buffered responses only.
fn sample(
    spend: f64,
    usage: Option<&Usage>,
    total: f64,
    llm: Option<f64>,
    ttft: Option<f64>,
) -> ModelSample {
    ModelSample {
        spend,
        input_tokens: usage.map_or(0, Usage::prompt),
        output_tokens: usage.map_or(0, Usage::completion),
        total_latency: total,
        llm_latency: llm,
        time_to_first_token: ttft,
        added_latency: match (llm, ttft) {
            (Some(llm), None) => Some((total - llm).max(0.0)),
            _ => None,
        },
    }
}

/// [`Billed`] with owned strings, for a stream's completion callback.
struct OwnedBilled {
    model: String,
    model_id: String,
    model_group: String,
    provider: &'static str,
    api_base: String,
}

impl OwnedBilled {
    fn from(b: &Billed<'_>) -> Self {
        Self {
            model: b.model.to_string(),
            model_id: b.model_id.to_string(),
            model_group: b.model_group.to_string(),
            provider: "",
            api_base: b.api_base.to_string(),
        }
        .with_provider(b.provider)
    }

    fn with_provider(mut self, provider: &str) -> Self {
        self.provider = haimaker_router::provider::by_name(provider).map_or("openai", |p| p.name);
        self
    }

    fn as_billed(&self) -> Billed<'_> {
        Billed {
            model: &self.model,
            model_id: &self.model_id,
            model_group: &self.model_group,
            provider: self.provider,
            api_base: &self.api_base,
        }
    }
}

fn sse_response(body: Body) -> Response<Body> {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn append_provider_headers(response: &mut Response<Body>, upstream: &http::HeaderMap) {
    let headers = response.headers_mut();
    for (name, value) in respond::provider_headers(upstream) {
        headers.append(name, value);
    }
}

fn cost(target: &Target, usage: Option<&Usage>) -> f64 {
    let Some(usage) = usage else {
        return 0.0;
    };
    // Cache writes are part of `prompt_tokens` but have their own price.
    target.prices.cost(&TokenUsage {
        prompt_tokens: usage.prompt().saturating_sub(usage.cache_creation()),
        completion_tokens: usage.completion(),
        cached_prompt_tokens: usage.cached(),
        cache_creation_tokens: usage.cache_creation(),
    })
}
