//! What alerting does, from `general_settings` (`alerting`, `alerting_threshold`, `alert_types`,
//! `alert_to_webhook_url`, `alerting_args`, `spend_report_frequency`) and the environment
//! (`SLACK_WEBHOOK_URL`, `WEBHOOK_URL`, `PROXY_BASE_URL`, `SLACK_DAILY_REPORT_FREQUENCY`,
//! `HAIMAKER_ALERTING_FLUSH_MS`).

use std::collections::BTreeMap;
use std::time::Duration;

use haimaker_config::Config;
use serde_json::Value;

use crate::kind::{AlertType, TypeSet};

/// LiteLLM's `DEFAULT_SLACK_ALERTING_THRESHOLD`.
pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(300);
/// LiteLLM's `DEFAULT_FLUSH_INTERVAL_SECONDS`: alerts of one type are squashed per interval.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// `alerting_args` (LiteLLM's `SlackAlertingArgs`), with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub daily_report_frequency: Duration,
    pub report_check_interval: Duration,
    pub budget_alert_ttl: Duration,
    pub outage_alert_ttl: Duration,
    pub region_outage_alert_ttl: Duration,
    pub minor_outage_alert_threshold: usize,
    pub major_outage_alert_threshold: usize,
    pub max_outage_alert_list_size: usize,
    /// Also log every payload sent (as a warning, like LiteLLM).
    pub log_to_console: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            daily_report_frequency: Duration::from_secs(12 * 60 * 60),
            report_check_interval: Duration::from_secs(5 * 60),
            budget_alert_ttl: Duration::from_secs(24 * 60 * 60),
            outage_alert_ttl: Duration::from_secs(60),
            region_outage_alert_ttl: Duration::from_secs(60),
            minor_outage_alert_threshold: 5,
            major_outage_alert_threshold: 10,
            max_outage_alert_list_size: 10,
            log_to_console: false,
        }
    }
}

/// Alerting as configured. Built only when `general_settings.alerting` names a channel that
/// can send.
#[derive(Clone, PartialEq)]
pub struct Settings {
    /// `alerting` has `slack` and a webhook URL exists for at least one type.
    pub slack: bool,
    /// `alerting` has `webhook` and `WEBHOOK_URL` is set: budget and lifecycle events go there
    /// as LiteLLM's `WebhookEvent` JSON.
    pub webhook: bool,
    pub threshold: Duration,
    pub types: TypeSet,
    /// `alert_to_webhook_url`: per-type Slack URLs.
    pub routes: BTreeMap<AlertType, Vec<String>>,
    /// `SLACK_WEBHOOK_URL`: every other type.
    pub default_url: Option<String>,
    /// `WEBHOOK_URL`.
    pub webhook_url: Option<String>,
    /// `PROXY_BASE_URL`, shown in every Slack alert.
    pub proxy_base_url: Option<String>,
    pub args: Args,
    /// `spend_report_frequency` (`"7d"`): the periodic spend report; `None` = weekly.
    pub spend_report_frequency: Option<Duration>,
    /// How often queued alerts are squashed and sent (`HAIMAKER_ALERTING_FLUSH_MS`, default 5 s).
    pub flush_interval: Duration,
    /// Prompts may appear in alerts (`--detailed_debug`: haimaker's "message logging on").
    pub log_messages: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Webhook URLs carry a token: never printed.
        f.debug_struct("Settings")
            .field("slack", &self.slack)
            .field("webhook", &self.webhook)
            .field("threshold", &self.threshold)
            .field(
                "types",
                &self.types.iter().map(|t| t.as_str()).collect::<Vec<_>>(),
            )
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("args", &self.args)
            .field("flush_interval", &self.flush_interval)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// `Ok(None)` when alerting is off. Problems that do not stop the gateway (an unknown
    /// channel, a missing URL) come back as warnings to log once.
    pub fn from_config(
        config: &Config,
        env: &dyn Fn(&str) -> Option<String>,
        log_messages: bool,
    ) -> (Option<Self>, Vec<String>) {
        let general = &config.general_settings;
        let mut warnings = Vec::new();
        if general.alerting.is_empty() {
            return (None, warnings);
        }
        let env_nonempty = |name: &str| {
            env(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let mut slack = false;
        let mut webhook = false;
        for channel in &general.alerting {
            match channel.as_str() {
                "slack" => slack = true,
                "webhook" => webhook = true,
                "email" => warnings.push(
                    "alerting: `email` is not supported by haimaker; use slack or webhook".into(),
                ),
                other => warnings.push(format!(
                    "alerting: unknown channel `{other}` (haimaker sends `slack` and `webhook`)"
                )),
            }
        }
        let mut routes = BTreeMap::new();
        for (name, urls) in &general.alert_to_webhook_url {
            match AlertType::parse(name) {
                Some(t) => {
                    let urls: Vec<String> = urls
                        .iter()
                        .map(|u| u.trim().to_string())
                        .filter(|u| !u.is_empty())
                        .collect();
                    if !urls.is_empty() {
                        routes.insert(t, urls);
                    }
                }
                None => warnings.push(format!(
                    "alert_to_webhook_url: unknown alert type `{name}` is ignored"
                )),
            }
        }
        let default_url = env_nonempty("SLACK_WEBHOOK_URL");
        if slack && default_url.is_none() && routes.is_empty() {
            warnings.push(
                "alerting has `slack` but SLACK_WEBHOOK_URL is not set and alert_to_webhook_url is empty: no Slack alerts will be sent".into(),
            );
            slack = false;
        }
        let webhook_url = env_nonempty("WEBHOOK_URL");
        if webhook && webhook_url.is_none() {
            warnings.push(
                "alerting has `webhook` but WEBHOOK_URL is not set: no webhook events will be sent"
                    .into(),
            );
            webhook = false;
        }
        if !slack && !webhook {
            return (None, warnings);
        }
        let types = match &general.alert_types {
            None => TypeSet::defaults(),
            Some(names) => names
                .iter()
                .filter_map(|name| {
                    let t = AlertType::parse(name);
                    if t.is_none() {
                        warnings.push(format!(
                            "alert_types: unknown alert type `{name}` is ignored"
                        ));
                    }
                    t
                })
                .collect(),
        };
        let mut args = Args::default();
        if let Some(d) = env_nonempty("SLACK_DAILY_REPORT_FREQUENCY")
            .and_then(|v| v.parse::<f64>().ok())
            .and_then(secs_to_duration)
        {
            args.daily_report_frequency = d;
        }
        apply_args(&mut args, &general.alerting_args, &mut warnings);
        let flush_interval = env_nonempty("HAIMAKER_ALERTING_FLUSH_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map_or(DEFAULT_FLUSH_INTERVAL, Duration::from_millis);
        let spend_report_frequency = general.spend_report_frequency.as_deref().and_then(|v| {
            let d = parse_days(v);
            if d.is_none() {
                warnings.push(format!(
                    "spend_report_frequency `{v}` is not a number of days like `7d`; using 7d"
                ));
            }
            d
        });
        (
            Some(Self {
                slack,
                webhook,
                threshold: general
                    .alerting_threshold
                    .filter(|d| !d.is_zero())
                    .unwrap_or(DEFAULT_THRESHOLD),
                types,
                routes,
                default_url,
                webhook_url,
                proxy_base_url: env_nonempty("PROXY_BASE_URL"),
                args,
                spend_report_frequency,
                flush_interval,
                log_messages,
            }),
            warnings,
        )
    }

    /// The Slack URLs alerts of type `t` go to.
    pub fn urls(&self, t: AlertType) -> &[String] {
        match self.routes.get(&t) {
            Some(urls) => urls,
            None => self.default_url.as_slice(),
        }
    }

    /// Whether alerts of type `t` are sent at all (on some channel).
    pub fn sends(&self, t: AlertType) -> bool {
        self.types.contains(t) && (self.webhook || (self.slack && !self.urls(t).is_empty()))
    }
}

fn secs_to_duration(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0 && secs < 1e9).then(|| Duration::from_secs_f64(secs))
}

/// `"7d"` -> 7 days. LiteLLM accepts days only; haimaker also takes `s`, `m` and `h` (short
/// reports for tests and trials).
fn parse_days(v: &str) -> Option<Duration> {
    let v = v.trim();
    let unit = match v.chars().last()?.to_ascii_lowercase() {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        's' => 1,
        _ => return None,
    };
    let n: u64 = v[..v.len() - 1].trim().parse().ok()?;
    (n > 0 && n * unit < 3650 * 86_400).then(|| Duration::from_secs(n * unit))
}

fn apply_args(args: &mut Args, raw: &serde_json::Map<String, Value>, warnings: &mut Vec<String>) {
    for (key, value) in raw {
        let secs = || value.as_f64().and_then(secs_to_duration);
        let count = || {
            value
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n > 0)
        };
        let ok = match key.as_str() {
            "daily_report_frequency" => secs().map(|d| args.daily_report_frequency = d).is_some(),
            "report_check_interval" => secs().map(|d| args.report_check_interval = d).is_some(),
            "budget_alert_ttl" => secs().map(|d| args.budget_alert_ttl = d).is_some(),
            "outage_alert_ttl" => secs().map(|d| args.outage_alert_ttl = d).is_some(),
            "region_outage_alert_ttl" => secs().map(|d| args.region_outage_alert_ttl = d).is_some(),
            "minor_outage_alert_threshold" => count()
                .map(|n| args.minor_outage_alert_threshold = n)
                .is_some(),
            "major_outage_alert_threshold" => count()
                .map(|n| args.major_outage_alert_threshold = n)
                .is_some(),
            "max_outage_alert_list_size" => count()
                .map(|n| args.max_outage_alert_list_size = n)
                .is_some(),
            "log_to_console" => value.as_bool().map(|b| args.log_to_console = b).is_some(),
            other => {
                warnings.push(format!(
                    "alerting_args.{other} is not a known setting; ignored"
                ));
                continue;
            }
        };
        if !ok {
            warnings.push(format!(
                "alerting_args.{key}: `{value}` is not a valid value; the default is used"
            ));
        }
    }
}
