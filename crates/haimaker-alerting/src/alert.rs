//! One alert, and the constructors for every event the gateway reports. The wording follows
//! LiteLLM's `slack_alerting.py` where it has one.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::format::{MAX_MESSAGE_CHARS, MAX_PROMPT_CHARS, redact, truncate};
use crate::kind::{AlertType, Level};

/// An alert on its way to the webhooks.
#[derive(Debug, Clone)]
pub struct Alert {
    pub kind: AlertType,
    pub level: Level,
    /// The message (secrets already redacted, length bounded).
    pub message: String,
    pub at: SystemTime,
    /// The request's `metadata.alerting_metadata`.
    pub metadata: Option<Map<String, Value>>,
    /// The same event seen again (by this worker or another) within `ttl` is dropped.
    pub dedupe: Option<Dedupe>,
    /// LiteLLM's `WebhookEvent` JSON, for `alerting: ["webhook"]` (budget events).
    pub webhook_event: Option<Value>,
}

/// What makes two alerts the same event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dedupe {
    pub key: String,
    pub ttl: Duration,
    /// Every worker observes this event (the database or Redis going away, a scheduled
    /// report): when no shared claim is possible (no Redis, or Redis down), only the leader
    /// worker (slot 1) sends it, so a pod sends it once, not once per worker.
    pub fleet: bool,
    /// Never claimed in Redis, always the leader's: for events about Redis itself, whose
    /// claim cannot be written during the outage (a worker that flushes after Redis returns
    /// would win a second claim and send the event again).
    pub leader_only: bool,
}

impl Alert {
    pub fn new(kind: AlertType, level: Level, message: impl AsRef<str>) -> Self {
        Self {
            kind,
            level,
            message: truncate(&redact(message.as_ref()), MAX_MESSAGE_CHARS),
            at: SystemTime::now(),
            metadata: None,
            dedupe: None,
            webhook_event: None,
        }
    }

    pub fn dedupe(mut self, key: impl Into<String>, ttl: Duration, fleet: bool) -> Self {
        self.dedupe = Some(Dedupe {
            key: key.into(),
            ttl: ttl.max(Duration::from_secs(1)),
            fleet,
            leader_only: false,
        });
        self
    }

    /// See [`Dedupe::leader_only`].
    pub fn leader_only(mut self) -> Self {
        if let Some(dedupe) = &mut self.dedupe {
            dedupe.leader_only = true;
        }
        self
    }

    pub fn with_metadata(mut self, metadata: Option<Map<String, Value>>) -> Self {
        self.metadata = metadata.filter(|m| !m.is_empty());
        self
    }
}

/// What an alert about one LLM call says about it.
#[derive(Debug, Clone, Default)]
pub struct CallInfo<'a> {
    pub model_group: &'a str,
    pub deployment_id: &'a str,
    /// `litellm_params.model` of the deployment (`openai/gpt-4o`).
    pub model: &'a str,
    pub api_base: &'a str,
    pub key_alias: Option<&'a str>,
    pub team: Option<&'a str>,
    /// The prompt, only when message logging is on.
    pub messages: Option<&'a str>,
}

impl CallInfo<'_> {
    /// LiteLLM's `request_info`.
    fn describe(&self) -> String {
        let mut s = format!("\nRequest Model: `{}`", self.model_group);
        if !self.model.is_empty() && self.model != self.model_group {
            s.push_str(&format!("\nDeployment: `{}`", self.model));
        }
        if !self.deployment_id.is_empty() {
            s.push_str(&format!("\nModel ID: `{}`", self.deployment_id));
        }
        s.push_str(&format!("\nAPI Base: `{}`", self.api_base));
        if let Some(messages) = self.messages {
            s.push_str(&format!(
                "\nMessages: `{}`",
                truncate(messages, MAX_PROMPT_CHARS)
            ));
        }
        if self.key_alias.is_some() || self.team.is_some() {
            s.push_str(&format!(
                "\n\nKey Name: `{}`\nTeam: `{}`",
                self.key_alias.unwrap_or("None"),
                self.team.unwrap_or("None")
            ));
        }
        s
    }
}

/// Seconds as LiteLLM prints a threshold: `300`, `0.5`.
pub fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}", s as u64)
    } else {
        format!("{}", (s * 1000.0).round() / 1000.0)
    }
}

/// `llm_exceptions`: a call failed at the provider (never for the client's own mistakes).
pub fn llm_exception(call: &CallInfo<'_>, error: &str) -> Alert {
    Alert::new(
        AlertType::LlmExceptions,
        Level::High,
        format!("LLM API call failed: `{error}`{}", call.describe()),
    )
}

/// `llm_too_slow`: a call took longer than `alerting_threshold`.
pub fn too_slow(call: &CallInfo<'_>, took: Duration, threshold: Duration) -> Alert {
    Alert::new(
        AlertType::LlmTooSlow,
        Level::Low,
        format!(
            "`Responses are slow - {:.2}s response time > Alerting threshold: {}s`{}",
            took.as_secs_f64(),
            secs(threshold),
            call.describe()
        ),
    )
}

/// `llm_requests_hanging`: a call has not answered within `alerting_threshold`.
pub fn hanging(call: &CallInfo<'_>, threshold: Duration) -> Alert {
    Alert::new(
        AlertType::LlmRequestsHanging,
        Level::Medium,
        format!(
            "`Requests are hanging - {}s+ request time`{}",
            secs(threshold),
            call.describe()
        ),
    )
}

/// `fallback_reports`: a model group failed and a fallback group answered.
pub fn fallback(from_group: &str, to_group: &str, error: &str, fallbacks: u32) -> Alert {
    Alert::new(
        AlertType::FallbackReports,
        Level::Low,
        format!(
            "Fallback used: model group `{from_group}` failed (`{error}`); answered by model group `{to_group}` after {fallbacks} fallback(s)"
        ),
    )
}

/// `cooldown_deployment`: the router took a deployment out of rotation.
pub fn cooldown(call: &CallInfo<'_>, cooldown: Duration, status: u16, error: &str) -> Alert {
    Alert::new(
        AlertType::CooldownDeployment,
        Level::Medium,
        format!(
            "Deployment cooled down for `{}s` after `{status}`: `{error}`{}",
            secs(cooldown),
            call.describe()
        ),
    )
    .dedupe(format!("cooldown:{}", call.deployment_id), cooldown, false)
}

/// Whose budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetScope {
    Key,
    User,
    Team,
}

impl BudgetScope {
    fn label(self) -> &'static str {
        match self {
            Self::Key => "Key Budget: ",
            Self::User => "User Budget: ",
            Self::Team => "Team Budget: ",
        }
    }

    /// LiteLLM's `event_group`.
    fn group(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::User => "internal_user",
            Self::Team => "team",
        }
    }
}

/// Which budget event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetEvent {
    /// spend >= max_budget.
    Crossed,
    /// 5 % or less of the budget left.
    Threshold5,
    /// 15 % or less left.
    Threshold15,
}

impl BudgetEvent {
    /// LiteLLM's rule: crossed, else within 5 %, else within 15 % of `max_budget`.
    pub fn of(spend: f64, max_budget: f64) -> Option<Self> {
        if !spend.is_finite() || !max_budget.is_finite() {
            return None;
        }
        if spend >= max_budget {
            return Some(Self::Crossed);
        }
        let left = if max_budget > 0.0 {
            (max_budget - spend) / max_budget
        } else {
            0.0
        };
        if left <= 0.05 {
            Some(Self::Threshold5)
        } else if left <= 0.15 {
            Some(Self::Threshold15)
        } else {
            None
        }
    }

    fn webhook_name(self) -> &'static str {
        match self {
            Self::Crossed => "budget_crossed",
            Self::Threshold5 | Self::Threshold15 => "threshold_crossed",
        }
    }

    fn dedupe_name(self) -> &'static str {
        match self {
            Self::Crossed => "budget_crossed",
            Self::Threshold5 => "threshold_crossed_5",
            Self::Threshold15 => "threshold_crossed_15",
        }
    }
}

/// A key, user or team and its spend (LiteLLM's `CallInfo`).
#[derive(Debug, Clone)]
pub struct BudgetInfo {
    pub scope: BudgetScope,
    /// The key's hash, the user id or the team id.
    pub id: String,
    pub spend: f64,
    pub max_budget: f64,
    pub key_alias: Option<String>,
    pub user_id: Option<String>,
    pub team_id: Option<String>,
    pub team_alias: Option<String>,
    pub user_email: Option<String>,
}

/// `budget_alerts`: once per `budget_alert_ttl` per entity and event (LiteLLM keys the 5 % and
/// 15 % thresholds the same, so the 5 % alert never follows the 15 % one within a day; here
/// each has its own key).
pub fn budget(info: &BudgetInfo, event: BudgetEvent, ttl: Duration) -> Alert {
    let mut event_message = info.scope.label().to_string();
    match event {
        BudgetEvent::Crossed => event_message.push_str(&format!(
            "Budget Crossed\n Total Budget:`{}`",
            info.max_budget
        )),
        BudgetEvent::Threshold5 => event_message.push_str("5% Threshold Crossed "),
        BudgetEvent::Threshold15 => event_message.push_str("15% Threshold Crossed"),
    }
    let mut details = format!(
        "*spend:* `{}`\n*max_budget:* `{}`\n",
        info.spend, info.max_budget
    );
    for (name, value) in [
        ("user_id", &info.user_id),
        ("team_id", &info.team_id),
        ("team_alias", &info.team_alias),
        ("user_email", &info.user_email),
        ("key_alias", &info.key_alias),
    ] {
        if let Some(v) = value {
            details.push_str(&format!("*{name}:* `{v}`\n"));
        }
    }
    details.push_str(&format!("*event_group:* `{}`\n", info.scope.group()));
    let token = (info.scope == BudgetScope::Key).then_some(info.id.as_str());
    let mut alert = Alert::new(
        AlertType::BudgetAlerts,
        Level::High,
        format!("{event_message}\n\n{details}"),
    )
    .dedupe(
        format!("budget_alerts:{}:{}", event.dedupe_name(), entity_key(info)),
        ttl,
        false,
    );
    alert.webhook_event = Some(json!({
        "spend": info.spend,
        "max_budget": info.max_budget,
        "token": token,
        "customer_id": null,
        "user_id": info.user_id,
        "team_id": info.team_id,
        "team_alias": info.team_alias,
        "user_email": info.user_email,
        "key_alias": info.key_alias,
        "projected_exceeded_date": null,
        "projected_spend": null,
        "event": event.webhook_name(),
        "event_group": info.scope.group(),
        "event_message": event_message,
    }));
    alert
}

fn entity_key(info: &BudgetInfo) -> String {
    let scope = match info.scope {
        BudgetScope::Key => "key",
        BudgetScope::User => "user",
        BudgetScope::Team => "team",
    };
    format!("{scope}:{}", info.id)
}

/// How long "the database is down" stays one event for every worker of every instance.
pub const INFRA_EVENT_TTL: Duration = Duration::from_secs(60);

/// `db_exceptions`: the database stopped answering.
pub fn db_down(error: &str) -> Alert {
    Alert::new(
        AlertType::DbExceptions,
        Level::High,
        format!("DB read/write call failed: `{error}`\nThe gateway keeps serving keys it has seen (last known state); spend is buffered and written when the database is back."),
    )
    .dedupe("db:down", INFRA_EVENT_TTL, true)
}

/// `db_exceptions`: the database answers again.
pub fn db_up() -> Alert {
    Alert::new(
        AlertType::DbExceptions,
        Level::Low,
        "DB connection restored: reads and writes succeed again.",
    )
    .dedupe("db:up", INFRA_EVENT_TTL, true)
}

/// `db_exceptions`: a write failed while the database was reachable.
pub fn db_write_failed(error: &str) -> Alert {
    Alert::new(
        AlertType::DbExceptions,
        Level::High,
        format!("DB read/write call failed: `{error}`\nThe spend stays buffered and the write is retried."),
    )
    .dedupe("db:write", INFRA_EVENT_TTL, false)
}

/// `failed_tracking_spend`: a spend write failed with the database reachable (a bad row, a
/// constraint, a permission). The rows stay buffered and are retried, but someone should look.
pub fn failed_tracking_spend(error: &str) -> Alert {
    Alert::new(
        AlertType::FailedTrackingSpend,
        Level::High,
        format!("Failed Tracking Cost: spend could not be written to the database: `{error}`\nThe rows stay buffered in the worker and the write is retried."),
    )
    .dedupe("spend:write", INFRA_EVENT_TTL, false)
}

/// `db_exceptions` (haimaker: Redis is a database too): Redis is unreachable.
pub fn redis_down(error: &str) -> Alert {
    Alert::new(
        AlertType::DbExceptions,
        Level::Medium,
        format!("Redis unavailable: `{error}`\nRequests keep flowing with per-process limits, local cooldowns and no shared response cache until it returns."),
    )
    .dedupe("redis:down", INFRA_EVENT_TTL, true)
    .leader_only()
}

/// Redis is back.
pub fn redis_up() -> Alert {
    Alert::new(
        AlertType::DbExceptions,
        Level::Low,
        "Redis connection restored: shared limits, budgets, cooldowns and the response cache are back.",
    )
    .dedupe("redis:up", INFRA_EVENT_TTL, true)
    .leader_only()
}

/// Minor or major.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Minor,
    Major,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minor => "Minor",
            Self::Major => "Major",
        }
    }
}

/// What is out: one deployment, or a provider's region.
#[derive(Debug, Clone)]
pub enum OutageScope {
    Model {
        deployment_id: String,
        model: String,
        provider: String,
        api_base: String,
    },
    Region {
        region: String,
        provider: String,
    },
}

/// `outage_alerts` / `region_outage_alerts` (LiteLLM's `_outage_alert_msg_factory`). Minor is
/// Medium, major is High.
pub fn outage(
    scope: &OutageScope,
    severity: Severity,
    codes: &[u16],
    since_last: Duration,
    ttl: Duration,
) -> Alert {
    let (kind, headers, key) = match scope {
        OutageScope::Model {
            deployment_id,
            model,
            provider,
            api_base,
        } => (
            AlertType::OutageAlerts,
            format!(
                "*Model Name:* `{model}`\n*Provider:* `{provider}`\n*API Base:* `{api_base}`\n"
            ),
            format!("outage:{deployment_id}"),
        ),
        OutageScope::Region { region, provider } => (
            AlertType::RegionOutageAlerts,
            format!("*Region Name:* `{region}`\n*Provider:* `{provider}`\n"),
            format!("region_outage:{provider}:{region}"),
        ),
    };
    let (mut timeouts, mut api, mut unknown) = (0, 0, 0);
    for &code in codes {
        match code {
            408 => timeouts += 1,
            500.. => api += 1,
            _ => unknown += 1,
        }
    }
    let mut errors = String::new();
    for (name, n) in [
        ("Timeout Errors", timeouts),
        ("API Errors", api),
        ("Unknown Errors", unknown),
    ] {
        if n > 0 {
            errors.push_str(&format!("\n{name}: {n}\n"));
        }
    }
    Alert::new(
        kind,
        if severity == Severity::Major { Level::High } else { Level::Medium },
        format!(
            "\n\n\n*⚠️ {} Service Outage*\n\n\n{headers}\n\n*Errors:*\n{errors}\n\n*Last Check:* `{}s ago`\n\n\n",
            severity.as_str(),
            (since_last.as_secs_f64() * 10_000.0).round() / 10_000.0
        ),
    )
    .dedupe(format!("{key}:{}", severity.as_str()), ttl, false)
}

/// A management event (LiteLLM's `send_virtual_key_event_slack`): who did it, and the
/// arguments, without secrets.
pub fn lifecycle(kind: AlertType, actor: &str, args: &Map<String, Value>) -> Alert {
    let event_name = match kind {
        AlertType::NewVirtualKeyCreated => "New Virtual Key Created",
        AlertType::VirtualKeyUpdated => "Virtual Key Updated",
        AlertType::VirtualKeyDeleted => "Virtual Key Deleted",
        AlertType::NewTeamCreated => "New Team Created",
        AlertType::TeamUpdated => "Team Updated",
        AlertType::TeamDeleted => "Team Deleted",
        AlertType::NewInternalUserCreated => "New Internal User Created",
        AlertType::InternalUserUpdated => "Internal User Updated",
        AlertType::InternalUserDeleted => "Internal User Deleted",
        other => other.as_str(),
    };
    let mut message = format!(
        "`{event_name}`\n*Action Done by:*\ncreated_by: `{actor}`\n\n*Arguments passed:*\n"
    );
    for (key, value) in args {
        if is_secret_field(key) {
            continue;
        }
        let value = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        message.push_str(&format!("{key}: `{}`\n", truncate(&value, 300)));
    }
    let mut alert = Alert::new(kind, Level::High, message);
    // `alerting: ["webhook"]`: LiteLLM's `WebhookEvent` for the two creation events it has.
    let event = match kind {
        AlertType::NewVirtualKeyCreated => Some(("key_created", "key", "API Key Created")),
        AlertType::NewInternalUserCreated => Some((
            "internal_user_created",
            "internal_user",
            "Internal User Created",
        )),
        _ => None,
    };
    if let Some((event, group, event_message)) = event {
        let field = |name: &str| args.get(name).cloned().unwrap_or(Value::Null);
        alert.webhook_event = Some(json!({
            "spend": args.get("spend").cloned().unwrap_or(json!(0.0)),
            "max_budget": field("max_budget"),
            "token": null,
            "customer_id": null,
            "user_id": field("user_id"),
            "team_id": field("team_id"),
            "team_alias": field("team_alias"),
            "user_email": field("user_email"),
            "key_alias": field("key_alias"),
            "projected_exceeded_date": null,
            "projected_spend": null,
            "event": event,
            "event_group": group,
            "event_message": event_message,
        }));
    }
    alert
}

/// Fields of a management request that must never reach an alert.
fn is_secret_field(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "key"
        || k == "keys"
        || k == "token"
        || k == "tokens"
        || k == "new_key"
        || k == "new_master_key"
        || k.contains("password")
        || k.contains("secret")
        || k.contains("api_key")
}

/// The test alert `/health/services?service=slack` sends for `kind` (LiteLLM's wording).
pub fn test(kind: AlertType) -> Alert {
    let message = match kind {
        AlertType::LlmExceptions => "LLM Exception test alert",
        AlertType::LlmTooSlow => "LLM Too Slow test alert",
        AlertType::LlmRequestsHanging => "LLM Requests Hanging test alert",
        AlertType::BudgetAlerts => "Budget Alert test alert",
        AlertType::DbExceptions => "DB Exception test alert",
        AlertType::OutageAlerts => "Outage Alert Exception test alert",
        AlertType::DailyReports => "Daily Reports test alert",
        other => return Alert::new(other, Level::Low, format!("{} test alert", other.as_str())),
    };
    Alert::new(kind, Level::Low, message)
}

/// The webhook test event (`/health/services?service=webhook`): LiteLLM sends a user budget
/// event with spend 1 and budget 0.
pub fn webhook_test(
    user_id: Option<&str>,
    team_id: Option<&str>,
    key_alias: Option<&str>,
) -> Alert {
    let info = BudgetInfo {
        scope: BudgetScope::User,
        id: user_id.unwrap_or("default_id").to_string(),
        spend: 1.0,
        max_budget: 0.0,
        key_alias: key_alias.map(str::to_string),
        user_id: user_id.map(str::to_string),
        team_id: team_id.map(str::to_string),
        team_alias: None,
        user_email: None,
    };
    let mut alert = budget(&info, BudgetEvent::Crossed, Duration::from_secs(1));
    alert.dedupe = None;
    alert
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call() -> CallInfo<'static> {
        CallInfo {
            model_group: "gpt",
            deployment_id: "d1",
            model: "openai/gpt-4o",
            api_base: "http://127.0.0.1:9",
            key_alias: Some("ci"),
            team: None,
            messages: None,
        }
    }

    #[test]
    fn llm_exception_names_the_call_without_the_prompt() {
        let a = llm_exception(
            &call(),
            "litellm.InternalServerError: boom with sk-abcdefghij",
        );
        assert_eq!(a.kind, AlertType::LlmExceptions);
        assert_eq!(a.level, Level::High);
        assert!(
            a.message.starts_with(
                "LLM API call failed: `litellm.InternalServerError: boom with sk-[redacted]`"
            ),
            "{}",
            a.message
        );
        assert!(a.message.contains("Request Model: `gpt`"));
        assert!(a.message.contains("API Base: `http://127.0.0.1:9`"));
        assert!(a.message.contains("Key Name: `ci`"));
        assert!(!a.message.contains("Messages"));
    }

    #[test]
    fn slow_and_hanging_follow_litellm() {
        let a = too_slow(&call(), Duration::from_millis(1234), Duration::from_secs(1));
        assert!(
            a.message
                .starts_with("`Responses are slow - 1.23s response time > Alerting threshold: 1s`"),
            "{}",
            a.message
        );
        assert_eq!(a.level, Level::Low);
        let h = hanging(&call(), Duration::from_millis(500));
        assert!(
            h.message
                .starts_with("`Requests are hanging - 0.5s+ request time`"),
            "{}",
            h.message
        );
        assert_eq!(h.level, Level::Medium);
    }

    #[test]
    fn budget_events() {
        assert_eq!(BudgetEvent::of(10.0, 10.0), Some(BudgetEvent::Crossed));
        assert_eq!(BudgetEvent::of(9.6, 10.0), Some(BudgetEvent::Threshold5));
        assert_eq!(BudgetEvent::of(8.6, 10.0), Some(BudgetEvent::Threshold15));
        assert_eq!(BudgetEvent::of(8.0, 10.0), None);
        assert_eq!(BudgetEvent::of(0.0, 0.0), Some(BudgetEvent::Crossed));
        let info = BudgetInfo {
            scope: BudgetScope::Key,
            id: "abc".into(),
            spend: 2.0,
            max_budget: 1.0,
            key_alias: Some("k".into()),
            user_id: None,
            team_id: None,
            team_alias: None,
            user_email: None,
        };
        let a = budget(&info, BudgetEvent::Crossed, Duration::from_secs(86_400));
        assert!(
            a.message
                .starts_with("Key Budget: Budget Crossed\n Total Budget:`1`\n\n*spend:* `2`"),
            "{}",
            a.message
        );
        assert!(
            !a.message.contains("abc"),
            "the key hash is not shown in Slack"
        );
        assert_eq!(
            a.dedupe.as_ref().map(|d| d.key.as_str()),
            Some("budget_alerts:budget_crossed:key:abc")
        );
        let event = a
            .webhook_event
            .expect("budget alerts carry a webhook event");
        assert_eq!(event["event"], "budget_crossed");
        assert_eq!(event["event_group"], "key");
        assert_eq!(event["token"], "abc");
    }

    #[test]
    fn outage_counts_errors_by_kind() {
        let scope = OutageScope::Model {
            deployment_id: "d1".into(),
            model: "openai/m".into(),
            provider: "openai".into(),
            api_base: "http://x".into(),
        };
        let a = outage(
            &scope,
            Severity::Minor,
            &[500, 502, 408],
            Duration::ZERO,
            Duration::from_secs(60),
        );
        assert_eq!(a.kind, AlertType::OutageAlerts);
        assert_eq!(a.level, Level::Medium);
        assert!(a.message.contains("*⚠️ Minor Service Outage*"));
        assert!(a.message.contains("\nTimeout Errors: 1\n"));
        assert!(a.message.contains("\nAPI Errors: 2\n"));
        assert_eq!(
            outage(
                &scope,
                Severity::Major,
                &[500],
                Duration::ZERO,
                Duration::from_secs(60)
            )
            .level,
            Level::High
        );
    }

    #[test]
    fn lifecycle_events_never_show_keys() {
        let mut args = Map::new();
        args.insert("key_alias".into(), Value::from("ci"));
        args.insert("key".into(), Value::from("sk-custom-secret"));
        args.insert("max_budget".into(), Value::from(10));
        let a = lifecycle(AlertType::NewVirtualKeyCreated, "admin", &args);
        assert!(
            a.message
                .starts_with("`New Virtual Key Created`\n*Action Done by:*\ncreated_by: `admin`"),
            "{}",
            a.message
        );
        assert!(a.message.contains("key_alias: `ci`"));
        assert!(a.message.contains("max_budget: `10`"));
        assert!(!a.message.contains("sk-custom"));
        let event = a.webhook_event.expect("key creation has a webhook event");
        assert_eq!(event["event"], "key_created");
        assert_eq!(event["key_alias"], "ci");
        assert!(!event.to_string().contains("sk-custom"));
    }
}
