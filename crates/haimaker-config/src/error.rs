//! Config problems: one [`ConfigError`] per problem, all of them collected in [`ConfigErrors`].
//!
//! The loader never stops at the first problem: an operator fixing a config wants the whole
//! list in one run. Messages never carry a secret's value (see `coerce::describe`).

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    /// The file the problem is in (the main config or an included file), as given.
    pub file: PathBuf,
    /// The key path: `model_list[2].litellm_params.api_base`; empty for whole-file problems.
    pub path: String,
    /// What was expected and what was found; never a secret's value.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.path,
                self.message
            )
        }
    }
}

/// Every problem found while loading a config. `Display` prints a header line, then one
/// indented line per problem.
#[derive(Debug)]
pub struct ConfigErrors {
    pub errors: Vec<ConfigError>,
}

impl ConfigErrors {
    /// One problem, for callers outside the loader (e.g. a CLI flag that conflicts with the file).
    pub fn single(
        file: impl Into<PathBuf>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            errors: vec![ConfigError {
                file: file.into(),
                path: path.into(),
                message: message.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.errors.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        match self.errors.first() {
            None => write!(f, "config has no problems")?,
            Some(first) => {
                let one_file = self.errors.iter().all(|e| e.file == first.file);
                if one_file {
                    write!(f, "{} has {count} {noun}:", first.file.display())?;
                } else {
                    // The main file's problems come first, so the first file names the config.
                    write!(
                        f,
                        "{} and its includes have {count} {noun}:",
                        first.file.display()
                    )?;
                }
            }
        }
        for error in &self.errors {
            write!(f, "\n  {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects problems during a load; turned into [`ConfigErrors`] at the end.
#[derive(Debug, Default)]
pub(crate) struct Sink {
    errors: Vec<ConfigError>,
}

impl Sink {
    pub(crate) fn push(&mut self, file: &Path, path: &str, message: impl Into<String>) {
        let error = ConfigError {
            file: file.to_path_buf(),
            path: path.to_owned(),
            message: message.into(),
        };
        // The same file can be included twice (a diamond); report its problems once.
        if !self.errors.contains(&error) {
            self.errors.push(error);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn into_errors(self) -> ConfigErrors {
        ConfigErrors {
            errors: self.errors,
        }
    }
}

/// `parent.key`, or `key` at the top level.
pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// `parent[index]`.
pub(crate) fn item(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(file: &str, path: &str, message: &str) -> ConfigError {
        ConfigError {
            file: PathBuf::from(file),
            path: path.to_owned(),
            message: message.to_owned(),
        }
    }

    #[test]
    fn display_has_a_header_and_one_line_per_problem() {
        let errors = ConfigErrors {
            errors: vec![
                error(
                    "config.yaml",
                    "model_list[2].litellm_params.api_bse",
                    "unknown key",
                ),
                error("config.yaml", "", "invalid YAML"),
            ],
        };
        assert_eq!(
            errors.to_string(),
            "config.yaml has 2 problems:\n  config.yaml: model_list[2].litellm_params.api_bse: unknown key\n  config.yaml: invalid YAML"
        );
    }

    #[test]
    fn display_names_includes_when_several_files_have_problems() {
        let errors = ConfigErrors {
            errors: vec![
                error("config.yaml", "a", "x"),
                error("models.yaml", "b", "y"),
            ],
        };
        assert!(
            errors
                .to_string()
                .starts_with("config.yaml and its includes have 2 problems:")
        );
        let one = ConfigErrors::single("c.yaml", "", "could not read");
        assert!(one.to_string().starts_with("c.yaml has 1 problem:"));
    }

    #[test]
    fn sink_drops_exact_duplicates() {
        let mut sink = Sink::default();
        sink.push(Path::new("a.yaml"), "x", "bad");
        sink.push(Path::new("a.yaml"), "x", "bad");
        sink.push(Path::new("a.yaml"), "y", "bad");
        assert_eq!(sink.into_errors().errors.len(), 2);
    }

    #[test]
    fn paths_join() {
        assert_eq!(child("", "model_list"), "model_list");
        assert_eq!(
            child(&item("model_list", 2), "litellm_params"),
            "model_list[2].litellm_params"
        );
    }
}
