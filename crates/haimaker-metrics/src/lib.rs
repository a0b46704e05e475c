//! Prometheus metrics for a pod of worker processes.
//!
//! Each worker records into its own [`Recorder`] (one mutex, held for a few map updates per
//! request) and ships what changed as a [`Delta`] to the supervisor about once a second and at
//! every planned exit. The supervisor adds the deltas into one [`Aggregate`] that outlives every
//! worker, so a recycle never resets a counter Prometheus has seen, and renders the text format
//! that the health process and the workers serve on `/metrics`.
//!
//! Metric names and labels are LiteLLM's (`litellm_*`), so existing dashboards and alerts keep
//! working; haimaker's own are `haimaker_*`.

mod aggregate;
mod histogram;
mod labels;
mod recorder;
mod text;

pub use aggregate::{Aggregate, PodGauges, WorkerView};
pub use histogram::{Histogram, LATENCY_BUCKETS, OVERHEAD_BUCKETS};
pub use labels::{DeploymentLabels, KeyLabels, ModelLabels, ProxyLabels};
pub use recorder::{
    Delta, DeploymentCounts, ModelCounts, ModelSample, Recorder, Remaining, RemainingLabels,
    WorkerGauges,
};

/// The Prometheus text format's content type.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The variable that turns `/metrics` off on the main port (the health port always serves it).
pub const MAIN_PORT_ENV: &str = "HAIMAKER_MAIN_PORT_METRICS";
