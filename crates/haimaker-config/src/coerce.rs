//! Scalar coercion (after `os.environ/` resolution) and the "found ..." part of messages.
//!
//! Environment variables are always strings, so every scalar type also accepts its string
//! form: `redis_port: os.environ/REDIS_PORT` holding `"6379"` becomes a port number, and
//! `"true"`, `"False"`, `"1"`, `"no"` become booleans.

use std::time::Duration;

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

/// The scalar types the schema knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Str,
    Bool,
    U16,
    U32,
    U64,
    F64,
    PosF64,
    Secs,
}

/// Why a value was refused.
#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    /// The wrong type: "expected {0}, found ...".
    Expected(&'static str),
    /// The right type, a bad value: "{0}, found ...".
    Rule(String),
}

/// Coerces a resolved scalar to the JSON value the converter reads.
pub(crate) fn coerce(scalar: Scalar, value: &Yaml) -> Result<Json, Problem> {
    match scalar {
        Scalar::Str => match value {
            Yaml::String(s) => Ok(Json::String(s.clone())),
            // `api_version: 2024` or `id: 7`: YAML reads a number, LiteLLM wants text.
            Yaml::Number(n) => Ok(Json::String(n.to_string())),
            _ => Err(Problem::Expected("a string")),
        },
        Scalar::Bool => boolean(value)
            .map(Json::Bool)
            .ok_or(Problem::Expected("a boolean (true or false)")),
        Scalar::U16 => integer(value, u64::from(u16::MAX)).map(Json::from),
        Scalar::U32 => integer(value, u64::from(u32::MAX)).map(Json::from),
        Scalar::U64 => integer(value, u64::MAX).map(Json::from),
        Scalar::F64 => float(value, "a number").and_then(json_float),
        Scalar::PosF64 => {
            let f = float(value, "a number")?;
            if f <= 0.0 {
                return Err(Problem::Rule("must be greater than 0".to_owned()));
            }
            json_float(f)
        }
        Scalar::Secs => {
            let f = float(value, "a number of seconds")?;
            if f < 0.0 {
                return Err(Problem::Rule("must be >= 0 seconds".to_owned()));
            }
            if Duration::try_from_secs_f64(f).is_err() {
                return Err(Problem::Rule("is too large for a duration".to_owned()));
            }
            json_float(f)
        }
    }
}

/// Booleans as Python/YAML users write them.
pub(crate) fn boolean(value: &Yaml) -> Option<bool> {
    match value {
        Yaml::Bool(b) => Some(*b),
        Yaml::Number(n) => match n.as_u64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Yaml::String(s) => flag(s),
        _ => None,
    }
}

/// `true`/`yes`/`on`/`1` and `false`/`no`/`off`/`0`, any case: YAML strings and environment
/// variables alike; `None` for anything else.
pub fn flag(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

enum Num {
    Int(i128),
    Float(f64),
}

fn number(value: &Yaml) -> Option<Num> {
    match value {
        Yaml::Number(n) => {
            if let Some(u) = n.as_u64() {
                Some(Num::Int(i128::from(u)))
            } else if let Some(i) = n.as_i64() {
                Some(Num::Int(i128::from(i)))
            } else {
                n.as_f64().map(Num::Float)
            }
        }
        Yaml::String(s) => {
            let t = s.trim();
            t.parse::<i128>()
                .map(Num::Int)
                .or_else(|_| t.parse::<f64>().map(Num::Float))
                .ok()
        }
        _ => None,
    }
}

fn integer(value: &Yaml, max: u64) -> Result<u64, Problem> {
    const EXPECTED: Problem = Problem::Expected("a non-negative integer");
    let n: i128 = match number(value).ok_or(EXPECTED)? {
        Num::Int(i) => i,
        // `2.0` is an integer; `2.5` is not.
        Num::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => f as i128,
        Num::Float(_) => return Err(EXPECTED),
    };
    if n < 0 {
        return Err(EXPECTED);
    }
    if n > i128::from(max) {
        return Err(Problem::Rule(format!("must be at most {max}")));
    }
    u64::try_from(n).map_err(|_| EXPECTED)
}

fn float(value: &Yaml, expected: &'static str) -> Result<f64, Problem> {
    let f = match number(value).ok_or(Problem::Expected(expected))? {
        Num::Int(i) => i as f64,
        Num::Float(f) => f,
    };
    if f.is_finite() {
        Ok(f)
    } else {
        Err(Problem::Expected(expected))
    }
}

fn json_float(f: f64) -> Result<Json, Problem> {
    serde_json::Number::from_f64(f)
        .map(Json::Number)
        .ok_or(Problem::Expected("a finite number"))
}

/// How much of a refused value a message may show.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Shown<'a> {
    /// The value itself (truncated).
    Plain,
    /// Only its type: the key holds a secret.
    Secret,
    /// Only where it came from: it was read from this environment variable.
    Env(&'a str),
}

/// The "found ..." part of a message.
pub(crate) fn describe(value: &Yaml, shown: Shown<'_>) -> String {
    let kind = match value {
        Yaml::Null => return "null".to_owned(),
        Yaml::Sequence(_) => return "a list".to_owned(),
        Yaml::Mapping(_) => return "a map".to_owned(),
        Yaml::Tagged(t) => return format!("a value tagged `{}`", t.tag),
        Yaml::Bool(_) => "a boolean",
        Yaml::Number(_) => "a number",
        Yaml::String(s) if s.is_empty() => "an empty string",
        Yaml::String(_) => "a string",
    };
    match shown {
        Shown::Env(name) => format!("{kind} from `os.environ/{name}` (value not shown)"),
        Shown::Secret => format!("{kind} (secret, value not shown)"),
        Shown::Plain => match value {
            Yaml::String(s) => format!("{:?}", truncate(s, 60)),
            Yaml::Bool(b) => b.to_string(),
            Yaml::Number(n) => n.to_string(),
            _ => kind.to_owned(),
        },
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Yaml {
        Yaml::String(v.to_owned())
    }

    fn n(v: &str) -> Yaml {
        serde_yaml::from_str(v).expect("a YAML number")
    }

    #[test]
    fn numbers_accept_numeric_strings() {
        assert_eq!(coerce(Scalar::U16, &s("6379")), Ok(Json::from(6379_u64)));
        assert_eq!(coerce(Scalar::U32, &n("2.0")), Ok(Json::from(2_u64)));
        assert_eq!(coerce(Scalar::F64, &s(" 0.5 ")), Ok(Json::from(0.5)));
        assert_eq!(coerce(Scalar::Secs, &n("30")), Ok(Json::from(30.0)));
    }

    #[test]
    fn bad_numbers_are_refused() {
        let expected = Err(Problem::Expected("a non-negative integer"));
        assert_eq!(coerce(Scalar::U32, &s("three")), expected);
        assert_eq!(coerce(Scalar::U32, &n("-1")), expected);
        assert_eq!(coerce(Scalar::U32, &n("2.5")), expected);
        assert!(matches!(
            coerce(Scalar::U16, &n("70000")),
            Err(Problem::Rule(_))
        ));
        assert!(matches!(
            coerce(Scalar::Secs, &n("-1")),
            Err(Problem::Rule(_))
        ));
        assert!(matches!(
            coerce(Scalar::Secs, &n("1e300")),
            Err(Problem::Rule(_))
        ));
        assert!(matches!(
            coerce(Scalar::PosF64, &n("0")),
            Err(Problem::Rule(_))
        ));
        assert!(coerce(Scalar::F64, &s("nan")).is_err());
        assert!(coerce(Scalar::F64, &n(".inf")).is_err());
    }

    #[test]
    fn booleans_accept_common_spellings() {
        for (text, want) in [
            ("true", true),
            ("True", true),
            ("1", true),
            ("yes", true),
            ("False", false),
            ("0", false),
            ("no", false),
        ] {
            assert_eq!(
                coerce(Scalar::Bool, &s(text)),
                Ok(Json::Bool(want)),
                "{text}"
            );
        }
        assert_eq!(
            coerce(Scalar::Bool, &Yaml::Bool(true)),
            Ok(Json::Bool(true))
        );
        assert!(coerce(Scalar::Bool, &s("maybe")).is_err());
    }

    #[test]
    fn strings_accept_numbers_but_not_booleans() {
        assert_eq!(coerce(Scalar::Str, &n("2024")), Ok(Json::from("2024")));
        assert!(coerce(Scalar::Str, &Yaml::Bool(true)).is_err());
    }

    #[test]
    fn describe_hides_secrets_and_env_values() {
        assert_eq!(describe(&s("three"), Shown::Plain), "\"three\"");
        assert_eq!(
            describe(&s("sk-live"), Shown::Secret),
            "a string (secret, value not shown)"
        );
        assert_eq!(
            describe(&s("abc"), Shown::Env("PORT")),
            "a string from `os.environ/PORT` (value not shown)"
        );
        assert_eq!(describe(&Yaml::Sequence(vec![]), Shown::Plain), "a list");
        assert!(describe(&s(&"x".repeat(100)), Shown::Plain).ends_with("…\""));
    }
}
