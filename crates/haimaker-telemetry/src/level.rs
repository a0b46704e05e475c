//! `LITELLM_LOG` levels.

/// The levels LiteLLM's `LITELLM_LOG` accepts (Python logging names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
}

impl Level {
    pub fn as_tracing(self) -> tracing::Level {
        match self {
            Self::Debug => tracing::Level::DEBUG,
            Self::Info => tracing::Level::INFO,
            Self::Warning => tracing::Level::WARN,
            Self::Error => tracing::Level::ERROR,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warning => "WARNING",
            Self::Error => "ERROR",
        }
    }
}

/// Parses a `LITELLM_LOG` value (case-insensitive; `WARN`, `CRITICAL` and `FATAL` map to the
/// nearest level). `None` for anything else, so the caller can say which value was wrong.
pub fn parse_level(value: &str) -> Option<Level> {
    match value.trim().to_ascii_uppercase().as_str() {
        "DEBUG" | "TRACE" => Some(Level::Debug),
        "INFO" => Some(Level::Info),
        "WARNING" | "WARN" => Some(Level::Warning),
        "ERROR" | "CRITICAL" | "FATAL" => Some(Level::Error),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_level_names() {
        assert_eq!(parse_level("debug"), Some(Level::Debug));
        assert_eq!(parse_level(" ERROR "), Some(Level::Error));
        assert_eq!(parse_level("CRITICAL"), Some(Level::Error));
        assert_eq!(parse_level("warn"), Some(Level::Warning));
        assert_eq!(parse_level("loud"), None);
    }
}
