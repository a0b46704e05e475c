//! Outage detection (LiteLLM's `outage_alerts` and `region_outage_alerts`): timeouts (408) and
//! server errors (5xx) of a deployment, or of a provider's region, counted in a window of
//! `outage_alert_ttl` from the first error. `minor_outage_alert_threshold` errors make a minor
//! outage (once per window), `major_outage_alert_threshold` a major one. A region needs errors
//! from more than one deployment (one bad deployment is not a region outage).
//!
//! Counts are per worker; the alerts are de-duplicated across workers and instances.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::alert::{Alert, OutageScope, Severity, outage};
use crate::settings::Args;

/// Windows kept at most (deployments and regions are few; this only bounds pathological
/// configurations).
const MAX_WINDOWS: usize = 1_024;

#[derive(Debug)]
struct Window {
    first: Instant,
    last: Instant,
    codes: Vec<u16>,
    minor_sent: bool,
    major_sent: bool,
    deployments: HashSet<String>,
}

impl Window {
    fn new(now: Instant, code: u16, deployment: &str) -> Self {
        Self {
            first: now,
            last: now,
            codes: vec![code],
            minor_sent: false,
            major_sent: false,
            deployments: HashSet::from([deployment.to_string()]),
        }
    }
}

/// One failed call, as outage tracking needs it.
#[derive(Debug, Clone)]
pub struct Failure<'a> {
    pub deployment_id: &'a str,
    pub model: &'a str,
    pub provider: &'a str,
    pub api_base: &'a str,
    pub region: Option<&'a str>,
    pub status: u16,
}

#[derive(Debug)]
pub struct Outages {
    minor: usize,
    major: usize,
    max_list: usize,
    ttl: Duration,
    region_ttl: Duration,
    deployments: HashMap<String, Window>,
    regions: HashMap<String, Window>,
}

impl Outages {
    pub fn new(args: &Args) -> Self {
        Self {
            minor: args.minor_outage_alert_threshold,
            major: args.major_outage_alert_threshold,
            max_list: args.max_outage_alert_list_size.max(1),
            ttl: args.outage_alert_ttl,
            region_ttl: args.region_outage_alert_ttl,
            deployments: HashMap::new(),
            regions: HashMap::new(),
        }
    }

    /// Whether a status counts toward an outage.
    pub fn counts(status: u16) -> bool {
        status == 408 || status >= 500
    }

    /// Records a failure; returns the outage alerts it triggers (`model` when `deployment` is
    /// on, `region` when `region` is on).
    pub fn record(
        &mut self,
        f: &Failure<'_>,
        now: Instant,
        deployment: bool,
        region: bool,
    ) -> Vec<Alert> {
        let mut alerts = Vec::new();
        if !Self::counts(f.status) {
            return alerts;
        }
        if deployment {
            let severity = step(
                &mut self.deployments,
                f.deployment_id,
                f,
                now,
                self.ttl,
                (self.minor, self.major, self.max_list),
                1,
            );
            if let Some((severity, codes, since)) = severity {
                let scope = OutageScope::Model {
                    deployment_id: f.deployment_id.to_string(),
                    model: f.model.to_string(),
                    provider: f.provider.to_string(),
                    api_base: f.api_base.to_string(),
                };
                alerts.push(outage(&scope, severity, &codes, since, self.ttl));
            }
        }
        if region && let Some(name) = f.region.filter(|r| !r.is_empty()) {
            let key = format!("{}{name}", f.provider);
            let severity = step(
                &mut self.regions,
                &key,
                f,
                now,
                self.region_ttl,
                (self.minor, self.major, self.max_list),
                2,
            );
            if let Some((severity, codes, since)) = severity {
                let scope = OutageScope::Region {
                    region: name.to_string(),
                    provider: f.provider.to_string(),
                };
                alerts.push(outage(&scope, severity, &codes, since, self.region_ttl));
            }
        }
        alerts
    }
}

/// One window update; `min_deployments` is 2 for regions.
fn step(
    windows: &mut HashMap<String, Window>,
    key: &str,
    f: &Failure<'_>,
    now: Instant,
    ttl: Duration,
    (minor, major, max_list): (usize, usize, usize),
    min_deployments: usize,
) -> Option<(Severity, Vec<u16>, Duration)> {
    if windows.len() >= MAX_WINDOWS {
        windows.retain(|_, w| now.duration_since(w.first) < ttl);
        if windows.len() >= MAX_WINDOWS {
            return None;
        }
    }
    let window = match windows.get_mut(key) {
        Some(w) if now.duration_since(w.first) < ttl => w,
        _ => {
            // The first error opens the window (LiteLLM: counted, never alerted on its own).
            windows.insert(key.to_string(), Window::new(now, f.status, f.deployment_id));
            return None;
        }
    };
    if window.codes.len() < max_list {
        window.codes.push(f.status);
    }
    if window.deployments.len() < 64 {
        window.deployments.insert(f.deployment_id.to_string());
    }
    let since = now.duration_since(window.last);
    window.last = now;
    if window.deployments.len() < min_deployments {
        return None;
    }
    let n = window.codes.len();
    if !window.minor_sent && n >= minor {
        window.minor_sent = true;
        Some((Severity::Minor, window.codes.clone(), since))
    } else if !window.major_sent && n >= major {
        window.major_sent = true;
        Some((Severity::Major, window.codes.clone(), since))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::{AlertType, Level};

    fn failure(deployment: &'static str, status: u16) -> Failure<'static> {
        Failure {
            deployment_id: deployment,
            model: "openai/m",
            provider: "openai",
            api_base: "http://x",
            region: Some("eu"),
            status,
        }
    }

    #[test]
    fn minor_at_five_major_at_ten_once_per_window() {
        let mut o = Outages::new(&Args::default());
        let t0 = Instant::now();
        let mut got = Vec::new();
        for i in 0..15 {
            got.extend(o.record(
                &failure("d1", 500),
                t0 + Duration::from_millis(i),
                true,
                false,
            ));
        }
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].level, Level::Medium);
        assert!(got[0].message.contains("Minor Service Outage"));
        assert_eq!(got[1].level, Level::High);
        assert!(got[1].message.contains("Major Service Outage"));
        // 4xx do not count; a new window starts after the TTL.
        assert!(o.record(&failure("d1", 429), t0, true, false).is_empty());
        let later = t0 + Duration::from_secs(61);
        let mut again = Vec::new();
        for i in 0..5 {
            again.extend(o.record(
                &failure("d1", 503),
                later + Duration::from_millis(i),
                true,
                false,
            ));
        }
        assert_eq!(again.len(), 1);
    }

    #[test]
    fn a_region_needs_two_deployments() {
        let mut o = Outages::new(&Args::default());
        let t0 = Instant::now();
        let mut got = Vec::new();
        for i in 0..6 {
            got.extend(o.record(
                &failure("d1", 500),
                t0 + Duration::from_millis(i),
                false,
                true,
            ));
        }
        assert!(got.is_empty(), "one deployment is not a region outage");
        got.extend(o.record(
            &failure("d2", 500),
            t0 + Duration::from_millis(7),
            false,
            true,
        ));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].kind, AlertType::RegionOutageAlerts);
        assert!(got[0].message.contains("*Region Name:* `eu`"));
    }
}
