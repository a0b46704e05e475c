//! `.env` files, read into a map: the process environment is never modified.
//!
//! LiteLLM loads `.env` from the working directory unless `LITELLM_MODE=PRODUCTION`. The
//! caller decides with [`should_load_dotenv`] and layers the map under the real environment.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::ConfigErrors;
use crate::error::Sink;

/// Whether `.env` should be loaded: `LITELLM_MODE` unset or anything but `PRODUCTION`
/// (case-insensitive).
pub fn should_load_dotenv(litellm_mode: Option<&str>) -> bool {
    litellm_mode.is_none_or(|mode| !mode.trim().eq_ignore_ascii_case("PRODUCTION"))
}

/// Reads a `.env` file without touching the process environment. A missing file is an empty
/// map. Later definitions of a name win. `${NAME}` substitutions in values see the process
/// environment first, then earlier lines (dotenvy's rule). Messages never quote a line (it
/// may hold a secret).
pub fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, ConfigErrors> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => {
            return Err(ConfigErrors::single(
                path,
                "",
                format!("could not read the .env file: {e}"),
            ));
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut sink = Sink::default();
    let mut vars = BTreeMap::new();
    for entry in dotenvy::from_read_iter(text.as_bytes()) {
        match entry {
            Ok((name, value)) => {
                vars.insert(name, value);
            }
            Err(dotenvy::Error::LineParse(line, at)) => {
                let where_ = line_number(text, &line)
                    .map(|n| format!("line {n}, "))
                    .unwrap_or_default();
                sink.push(
                    path,
                    "",
                    format!("could not parse {where_}character {}", at + 1),
                );
            }
            Err(e) => {
                // I/O errors do not move the reader forward: stop here.
                sink.push(
                    path,
                    "",
                    format!("could not read the .env file: {}", describe(&e)),
                );
                break;
            }
        }
    }
    if sink.is_empty() {
        Ok(vars)
    } else {
        Err(sink.into_errors())
    }
}

/// Where the offending line starts (1-based), found by its text.
fn line_number(text: &str, line: &str) -> Option<usize> {
    let first = line.lines().next().filter(|l| !l.trim().is_empty())?;
    text.lines().position(|l| l == first).map(|i| i + 1)
}

fn describe(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::Io(io) => io.to_string(),
        // `EnvVar` and future variants: their text names a variable at most.
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn production_mode_skips_dotenv() {
        assert!(should_load_dotenv(None));
        assert!(should_load_dotenv(Some("DEV")));
        assert!(should_load_dotenv(Some("")));
        assert!(!should_load_dotenv(Some("PRODUCTION")));
        assert!(!should_load_dotenv(Some("production")));
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_dotenv(&dir.path().join(".env")).unwrap().is_empty());
    }

    #[test]
    fn reads_names_and_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        fs::write(&path, "\u{feff}# comment\nOPENAI_API_KEY=sk-abc\nexport PORT=4000\nQUOTED=\"a b\"\nPORT=4001\n").unwrap();
        let vars = read_dotenv(&path).unwrap();
        assert_eq!(
            vars.get("OPENAI_API_KEY").map(String::as_str),
            Some("sk-abc")
        );
        assert_eq!(vars.get("QUOTED").map(String::as_str), Some("a b"));
        assert_eq!(vars.get("PORT").map(String::as_str), Some("4001"));
    }

    #[test]
    fn parse_errors_name_the_line_but_not_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        fs::write(&path, "GOOD=1\nsk-very-secret value\n").unwrap();
        let errors = read_dotenv(&path).unwrap_err();
        let text = errors.to_string();
        assert!(text.contains("line 2"), "{text}");
        assert!(!text.contains("sk-very-secret"), "{text}");
    }
}
