//! `GET /spend/logs` (LiteLLM's `view_spend_logs`).
//!
//! With both `start_date` and `end_date`, rows in that range (and one of `api_key`,
//! `request_id`, `user_id`, in that order of preference), summarised per day unless
//! `summarize=false`. Otherwise the rows of `api_key`, else of `request_id`, else of `user_id`,
//! else all rows. `api_key` may be an `sk-` key or the stored value (a hash, or
//! `litellm_proxy_master_key`); LiteLLM hashes an `sk-` key only outside a date range, haimaker
//! in both cases.

use haimaker_store::admin::spend_logs::{self as store, Filter};
use http::Response;
use serde_json::Value;

use super::super::Body;
use super::common::{Cx, Query, bad_request, db_error, ok, token_of};
use crate::error::ProxyError;

pub async fn logs(cx: &Cx<'_>, query: &Query) -> Result<Response<Body>, ProxyError> {
    let api_key = query.get("api_key").map(|k| token_of(&k));
    let request_id = query.get("request_id");
    let user = query.get("user_id");
    let date = |name: &str| -> Result<Option<String>, ProxyError> {
        match query.get(name) {
            Some(d) if !store::is_date(&d) => Err(bad_request(
                name,
                format!("Invalid `{name}` {d:?}: expected a date as YYYY-MM-DD"),
            )),
            other => Ok(other),
        }
    };
    let (start, end) = (date("start_date")?, date("end_date")?);
    let summarize = query.flag("summarize", true)?;
    let client = cx.conn().await?;
    let rows = match (start, end) {
        (Some(start), Some(end)) => {
            let mut filter = Filter {
                start: Some(start),
                end: Some(end),
                ..Filter::default()
            };
            if api_key.is_some() {
                filter.api_key = api_key;
            } else if request_id.is_some() {
                filter.request_id = request_id;
            } else {
                filter.user = user;
            }
            if summarize {
                store::daily(&client, &filter).await
            } else {
                store::rows(&client, &filter).await
            }
        }
        _ => {
            let filter = if api_key.is_some() {
                Filter {
                    api_key,
                    ..Filter::default()
                }
            } else if request_id.is_some() {
                Filter {
                    request_id,
                    ..Filter::default()
                }
            } else {
                Filter {
                    user,
                    ..Filter::default()
                }
            };
            store::rows(&client, &filter).await
        }
    }
    .map_err(db_error)?;
    Ok(ok(&Value::Array(rows)))
}
