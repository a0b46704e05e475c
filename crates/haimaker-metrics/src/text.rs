//! The Prometheus text exposition format (0.0.4).

use std::fmt::Write as _;

use crate::histogram::Histogram;

/// Writes metric families into one string.
#[derive(Debug, Default)]
pub struct Text {
    pub out: String,
}

/// `name="value"` pairs.
pub type Labels<'a> = Vec<(&'a str, String)>;

impl Text {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, String)], value: f64) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }

    /// A counter, exposed as `<name>_total` as Python's prometheus_client (LiteLLM) does.
    pub fn counter(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        if samples.is_empty() {
            return;
        }
        self.header(name, "counter", help);
        let total = format!("{name}_total");
        for (labels, value) in samples {
            self.sample(&total, labels, *value);
        }
    }

    pub fn gauge(&mut self, name: &str, help: &str, samples: &[(Labels<'_>, f64)]) {
        if samples.is_empty() {
            return;
        }
        self.header(name, "gauge", help);
        for (labels, value) in samples {
            self.sample(name, labels, *value);
        }
    }

    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        bounds: &[f64],
        samples: &[(Labels<'_>, &Histogram)],
    ) {
        let samples: Vec<_> = samples.iter().filter(|(_, h)| !h.is_empty()).collect();
        if samples.is_empty() {
            return;
        }
        self.header(name, "histogram", help);
        let (bucket, sum, count) = (
            format!("{name}_bucket"),
            format!("{name}_sum"),
            format!("{name}_count"),
        );
        for (labels, hist) in samples {
            for (le, n) in hist.cumulative(bounds) {
                let mut with_le = labels.clone();
                with_le.push(("le", le));
                self.sample(&bucket, &with_le, n as f64);
            }
            self.sample(&sum, labels, hist.sum);
            self.sample(&count, labels, hist.count as f64);
        }
    }
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_the_total_suffix_and_values_are_escaped() {
        let mut t = Text::default();
        t.counter(
            "x_metric",
            "help",
            &[(vec![("a", "q\"uo\\te".to_string())], 3.0)],
        );
        assert_eq!(
            t.out,
            "# HELP x_metric help\n# TYPE x_metric counter\nx_metric_total{a=\"q\\\"uo\\\\te\"} 3.0\n"
        );
    }
}
