//! The scheduled reports (`daily_reports`, `spend_reports`): every worker checks every
//! `report_check_interval` whether a report period ended; the one that claims the period
//! (see `Alerting::claim_report`) reads the figures from the database and raises the report.
//! A report covers the period that just ended (from its aligned start until now), for every
//! worker and instance, because the figures come from the shared spend and error logs.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use haimaker_alerting::reports::{
    self, DeploymentLine, SpendPeriod, month_bounds, period, period_start,
};
use haimaker_alerting::{AlertType, Alerting};
use haimaker_store::reports as store;

use crate::db::DbLayer;
use crate::state::AppState;

/// LiteLLM's default `spend_report_frequency`.
const WEEK: Duration = Duration::from_secs(7 * 86_400);

pub(super) async fn run(alerts: Alerting, state: Arc<AppState>, db: Arc<DbLayer>) {
    let settings = alerts.settings().clone();
    let daily_every = settings.args.daily_report_frequency;
    let spend_every = settings.spend_report_frequency.unwrap_or(WEEK);
    let check = settings
        .args
        .report_check_interval
        .max(Duration::from_millis(100));
    // Nothing is reported for the period the worker started in: a restart never sends a
    // report early, and every worker agrees on the boundaries.
    let start = SystemTime::now();
    let mut daily_seen = period(start, daily_every);
    let mut spend_seen = period(start, spend_every);
    let mut month_seen = month_bounds(start).1;
    loop {
        tokio::time::sleep(check).await;
        let now = SystemTime::now();
        if alerts.sends(AlertType::DailyReports) {
            let p = period(now, daily_every);
            if p > daily_seen {
                daily_seen = p;
                let key = format!("daily:{}:{p}", daily_every.as_millis());
                if alerts.claim_report(&key, daily_every).await {
                    let from = period_start(p.saturating_sub(1), daily_every);
                    daily(&alerts, &state, &db, from, now).await;
                }
            }
        }
        if alerts.sends(AlertType::SpendReports) {
            let p = period(now, spend_every);
            if p > spend_seen {
                spend_seen = p;
                let key = format!("spend:{}:{p}", spend_every.as_millis());
                if alerts.claim_report(&key, spend_every).await {
                    let from = period_start(p.saturating_sub(1), spend_every);
                    spend(&alerts, &db, SpendPeriod::Weekly, from, now).await;
                }
            }
            let (previous, this_month) = month_bounds(now);
            if this_month > month_seen {
                month_seen = this_month;
                let key = format!(
                    "monthly:{}",
                    haimaker_alerting::format::date_utc(this_month)
                );
                if alerts.claim_report(&key, Duration::from_secs(86_400)).await {
                    spend(&alerts, &db, SpendPeriod::Monthly, previous, this_month).await;
                }
            }
        }
    }
}

/// The report names a deployment by its `litellm_params.model` and API base, taken from the
/// current router (the logs carry only the deployment id for failed calls).
fn lines(state: &AppState, figures: Vec<store::DeploymentFigure>) -> Vec<DeploymentLine> {
    let router = state.router();
    figures
        .into_iter()
        .map(|f| {
            let known = router.deployments().iter().find(|d| d.id == f.model_id);
            let model = known.map_or(f.model, |d| d.litellm_model.clone());
            let api_base = known
                .and_then(|d| d.api_base.clone())
                .filter(|b| !b.is_empty())
                .unwrap_or(f.api_base);
            DeploymentLine {
                model: if model.is_empty() { f.model_id } else { model },
                api_base,
                value: f.value,
            }
        })
        .collect()
}

async fn daily(
    alerts: &Alerting,
    state: &AppState,
    db: &DbLayer,
    from: SystemTime,
    to: SystemTime,
) {
    let figures = async {
        let client = db.db.conn().await?;
        let failed = store::most_failed(&client, from, to).await?;
        let slowest = store::slowest(&client, from, to).await?;
        Ok::<_, haimaker_store::StoreError>((failed, slowest))
    }
    .await;
    match figures {
        Ok((failed, slowest)) => {
            alerts.raise(reports::daily(
                &lines(state, failed),
                &lines(state, slowest),
            ));
        }
        Err(e) => {
            tracing::warn!(target: "haimaker::alerting", error = %e, "daily report not sent: the database did not answer");
        }
    }
}

async fn spend(
    alerts: &Alerting,
    db: &DbLayer,
    which: SpendPeriod,
    from: SystemTime,
    to: SystemTime,
) {
    let figures = async {
        let client = db.db.conn().await?;
        let teams = store::spend_per_team(&client, from, to).await?;
        let tags = store::spend_per_tag(&client, from, to).await?;
        Ok::<_, haimaker_store::StoreError>((teams, tags))
    }
    .await;
    match figures {
        Ok((teams, tags)) => {
            let pairs = |v: Vec<store::SpendLine>| -> Vec<(String, f64)> {
                v.into_iter().map(|l| (l.name, l.spend)).collect()
            };
            alerts.raise(reports::spend(which, from, to, &pairs(teams), &pairs(tags)));
        }
        Err(e) => {
            tracing::warn!(target: "haimaker::alerting", error = %e, "spend report not sent: the database did not answer");
        }
    }
}
