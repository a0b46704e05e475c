//! `daily_reports` and `spend_reports`: their wording (LiteLLM's) and their schedule. The
//! figures come from the database (the gateway's spend and error logs), so a report covers every
//! worker and instance; [`crate::Alerting::claim_report`] makes one worker of the deployment
//! send each report.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::alert::Alert;
use crate::format::date_utc;
use crate::kind::{AlertType, Level};

/// A deployment in the daily report.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentLine {
    /// `litellm_params.model`.
    pub model: String,
    pub api_base: String,
    pub value: f64,
}

/// LiteLLM's daily report: the deployments with the most failed calls and the slowest ones
/// (latency per output token). Sent as is, without the Level header.
pub fn daily(failed: &[DeploymentLine], slowest: &[DeploymentLine]) -> Alert {
    let mut message = String::from("\n\nHere are today's key metrics 📈: \n\n");
    message.push_str("\n\n*❗️ Top Deployments with Most Failed Requests:*\n\n");
    if failed.is_empty() {
        message.push_str("\tNone\n");
    }
    for (i, d) in failed.iter().enumerate() {
        message.push_str(&format!(
            "\t{}. Deployment: `{}`, Failed Requests: `{}`,  API Base: `{}`\n",
            i + 1,
            d.model,
            d.value.round() as u64,
            d.api_base
        ));
    }
    message.push_str("\n\n*😅 Top Slowest Deployments:*\n\n");
    if slowest.is_empty() {
        message.push_str("\tNone\n");
    }
    for (i, d) in slowest.iter().enumerate() {
        message.push_str(&format!(
            "\t{}. Deployment: `{}`, Latency per output token: `{}s/token`,  API Base: `{}`\n\n",
            i + 1,
            d.model,
            (d.value * 1000.0).round() / 1000.0,
            d.api_base
        ));
    }
    Alert::new(AlertType::DailyReports, Level::Low, message)
}

/// Which spend report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpendPeriod {
    /// Every `spend_report_frequency` (default 7 days).
    Weekly,
    /// The previous calendar month, on the 1st.
    Monthly,
}

/// LiteLLM's spend report: spend per team and per tag over `[from, to)`.
pub fn spend(
    period: SpendPeriod,
    from: SystemTime,
    to: SystemTime,
    teams: &[(String, f64)],
    tags: &[(String, f64)],
) -> Alert {
    let days = to.duration_since(from).map_or(0, |d| d.as_secs() / 86_400);
    let title = match period {
        SpendPeriod::Weekly => "Weekly",
        SpendPeriod::Monthly => "Monthly",
    };
    let mut message = format!(
        "*💸 {title} Spend Report for `{} - {}` ({days} days)*\n",
        date_utc(from),
        date_utc(to)
    );
    message.push_str("\n*Team Spend Report:*\n");
    for (team, spend) in teams {
        message.push_str(&format!("Team: `{team}` | Spend: `${}`\n", round4(*spend)));
    }
    message.push_str("\n*Tag Spend Report:*\n");
    for (tag, spend) in tags {
        message.push_str(&format!("Tag: `{tag}` | Spend: `${}`\n", round4(*spend)));
    }
    Alert::new(AlertType::SpendReports, Level::Low, message)
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// The number of the period of length `every` that `at` falls in (periods are aligned to the
/// Unix epoch, so every worker and instance numbers them alike).
pub fn period(at: SystemTime, every: Duration) -> u64 {
    let every = every.as_millis().max(1);
    let ms = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    u64::try_from(ms / every).unwrap_or(u64::MAX)
}

/// The start of period `n`.
pub fn period_start(n: u64, every: Duration) -> SystemTime {
    let ms = u128::from(n) * every.as_millis().max(1);
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The first instant of the month `at` falls in, and of the month before (UTC).
pub fn month_bounds(at: SystemTime) -> (SystemTime, SystemTime) {
    let days = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) / 86_400;
    let (y, m, _) = crate::format::civil_from_days(days as i64);
    let (py, pm) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    let start = |y: i64, m: u32| {
        let d = days_from_civil(y, m, 1).max(0) as u64;
        UNIX_EPOCH + Duration::from_secs(d * 86_400)
    };
    (start(py, pm), start(y, m))
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_report_lists_failures_and_latency() {
        let a = daily(
            &[DeploymentLine {
                model: "openai/m".into(),
                api_base: "http://x".into(),
                value: 3.0,
            }],
            &[],
        );
        assert_eq!(a.kind, AlertType::DailyReports);
        assert!(a.message.contains(
            "\t1. Deployment: `openai/m`, Failed Requests: `3`,  API Base: `http://x`\n"
        ));
        assert!(
            a.message
                .contains("*😅 Top Slowest Deployments:*\n\n\tNone\n")
        );
    }

    #[test]
    fn spend_reports_round_and_name_the_dates() {
        let from = UNIX_EPOCH + Duration::from_secs(1_709_251_200);
        let to = from + Duration::from_secs(7 * 86_400);
        let a = spend(
            SpendPeriod::Weekly,
            from,
            to,
            &[("eng".into(), 1.234_56)],
            &[("prod".into(), 2.0)],
        );
        assert!(
            a.message
                .starts_with("*💸 Weekly Spend Report for `2024-03-01 - 2024-03-08` (7 days)*\n")
        );
        assert!(a.message.contains("Team: `eng` | Spend: `$1.2346`\n"));
        assert!(a.message.contains("Tag: `prod` | Spend: `$2`\n"));
    }

    #[test]
    fn periods_and_months() {
        let every = Duration::from_secs(10);
        let at = UNIX_EPOCH + Duration::from_secs(125);
        assert_eq!(period(at, every), 12);
        assert_eq!(
            period_start(12, every),
            UNIX_EPOCH + Duration::from_secs(120)
        );
        // 2024-03-15 -> February 2024 and March 2024.
        let (prev, this) = month_bounds(UNIX_EPOCH + Duration::from_secs(1_710_460_800));
        assert_eq!(date_utc(prev), "2024-02-01");
        assert_eq!(date_utc(this), "2024-03-01");
        let (prev, _) = month_bounds(UNIX_EPOCH + Duration::from_secs(1_704_153_600));
        assert_eq!(date_utc(prev), "2023-12-01");
    }
}
