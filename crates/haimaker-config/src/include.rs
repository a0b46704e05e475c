//! Reading the config file and its `include`s into a tree of parsed YAML maps.
//!
//! Included paths are relative to the including file's directory, as in LiteLLM. LiteLLM
//! reads one level of includes; haimaker follows nested ones too, refusing cycles. Problems
//! with an include (missing file, cycle) are reported against the including file's
//! `include[i]`; problems inside an included file name that file.

use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::{Mapping, Value as Yaml};

use crate::coerce::{Shown, describe};
use crate::error::{Sink, item};

/// More files than this is a mistake (or a fan-out that would take forever).
const MAX_FILES: usize = 64;

/// One parsed file and the files it includes, in `include` order.
#[derive(Debug)]
pub(crate) struct SourceFile {
    /// The path as given (main file) or as joined from the includer's directory.
    pub file: PathBuf,
    pub top: Mapping,
    pub children: Vec<SourceFile>,
}

struct State {
    /// The files being read, outermost first: (canonical path, path as shown).
    stack: Vec<(PathBuf, PathBuf)>,
    files: usize,
}

/// Reads and parses `path` and, recursively, its includes.
pub(crate) fn load_tree(path: &Path, sink: &mut Sink) -> Option<SourceFile> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            sink.push(path, "", format!("could not read the config file: {e}"));
            return None;
        }
    };
    tree_from_text(path, &text, sink)
}

/// Parses `text` as if read from `path` (includes are still read from disk, relative to it).
pub(crate) fn tree_from_text(path: &Path, text: &str, sink: &mut Sink) -> Option<SourceFile> {
    let canonical = fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut state = State {
        stack: Vec::new(),
        files: 1,
    };
    parse_file(path, canonical, text, sink, &mut state)
}

fn parse_file(
    shown: &Path,
    canonical: PathBuf,
    text: &str,
    sink: &mut Sink,
    state: &mut State,
) -> Option<SourceFile> {
    let top = parse(shown, text, sink)?;
    state.stack.push((canonical, shown.to_path_buf()));
    let children = includes(shown, &top, sink, state);
    state.stack.pop();
    Some(SourceFile {
        file: shown.to_path_buf(),
        top,
        children,
    })
}

/// YAML text -> the top-level map. Empty (or comment-only) text is an empty map.
fn parse(shown: &Path, text: &str, sink: &mut Sink) -> Option<Mapping> {
    let mut value: Yaml = match serde_yaml::from_str(text) {
        Ok(value) => value,
        Err(e) => {
            sink.push(shown, "", yaml_message(&e));
            return None;
        }
    };
    // PyYAML applies `<<: *anchor` merge keys; serde_yaml leaves them to the caller.
    if let Err(e) = value.apply_merge() {
        sink.push(shown, "", format!("invalid YAML merge key (`<<`): {e}"));
        return None;
    }
    match value {
        Yaml::Null => Some(Mapping::new()),
        Yaml::Mapping(map) => Some(map),
        other => {
            let found = describe(&other, Shown::Plain);
            sink.push(
                shown,
                "",
                format!("expected a map of settings at the top level, found {found}"),
            );
            None
        }
    }
}

fn yaml_message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(at) if !text.contains(" line ") => {
            format!(
                "invalid YAML at line {} column {}: {text}",
                at.line(),
                at.column()
            )
        }
        _ => format!("invalid YAML: {text}"),
    }
}

fn includes(shown: &Path, top: &Mapping, sink: &mut Sink, state: &mut State) -> Vec<SourceFile> {
    let list = match top.get("include") {
        None | Some(Yaml::Null) => return Vec::new(),
        Some(Yaml::Sequence(list)) => list,
        Some(other) => {
            let found = describe(other, Shown::Plain);
            sink.push(
                shown,
                "include",
                format!("expected a list of file paths, found {found}"),
            );
            return Vec::new();
        }
    };
    let mut children = Vec::new();
    for (index, entry) in list.iter().enumerate() {
        let path = item("include", index);
        match entry {
            Yaml::String(given) if !given.trim().is_empty() => {
                if let Some(child) = include_one(shown, &path, given, sink, state) {
                    children.push(child);
                }
            }
            other => {
                let found = describe(other, Shown::Plain);
                sink.push(shown, &path, format!("expected a file path, found {found}"));
            }
        }
    }
    children
}

fn include_one(
    parent: &Path,
    path: &str,
    given: &str,
    sink: &mut Sink,
    state: &mut State,
) -> Option<SourceFile> {
    let shown = parent.parent().unwrap_or(Path::new("")).join(given);
    // Read relative to where the includer really is, whatever the working directory.
    let real_dir = state
        .stack
        .last()
        .and_then(|(canonical, _)| canonical.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let canonical = match fs::canonicalize(real_dir.join(given)) {
        Ok(canonical) => canonical,
        Err(e) => {
            sink.push(
                parent,
                path,
                format!("could not read included file `{}`: {e}", shown.display()),
            );
            return None;
        }
    };
    if let Some(start) = state.stack.iter().position(|(c, _)| *c == canonical) {
        let mut chain: Vec<String> = state.stack[start..]
            .iter()
            .map(|(_, s)| s.display().to_string())
            .collect();
        chain.push(shown.display().to_string());
        sink.push(
            parent,
            path,
            format!("include cycle: {}", chain.join(" -> ")),
        );
        return None;
    }
    state.files += 1;
    if state.files > MAX_FILES {
        sink.push(
            parent,
            path,
            format!("too many included files (more than {MAX_FILES})"),
        );
        return None;
    }
    let text = match fs::read_to_string(&canonical) {
        Ok(text) => text,
        Err(e) => {
            sink.push(
                parent,
                path,
                format!("could not read included file `{}`: {e}", shown.display()),
            );
            return None;
        }
    };
    parse_file(&shown, canonical, &text, sink, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Option<Mapping> {
        let mut sink = Sink::default();
        let parsed = parse(Path::new("c.yaml"), text, &mut sink);
        assert_eq!(parsed.is_some(), sink.is_empty());
        parsed
    }

    #[test]
    fn empty_and_comment_only_files_are_empty_maps() {
        assert_eq!(parse_ok("").map(|m| m.len()), Some(0));
        assert_eq!(
            parse_ok("# nothing here\n  # at all\n").map(|m| m.len()),
            Some(0)
        );
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        let mut sink = Sink::default();
        assert!(
            parse(
                Path::new("c.yaml"),
                "model_list:\n  - a: [1, 2\n",
                &mut sink
            )
            .is_none()
        );
        let errors = sink.into_errors().errors;
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("line"), "{}", errors[0].message);
        assert!(
            errors[0].message.contains("column"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn a_top_level_that_is_not_a_map_is_an_error() {
        let mut sink = Sink::default();
        assert!(parse(Path::new("c.yaml"), "- a\n- b\n", &mut sink).is_none());
        assert!(
            sink.into_errors().errors[0]
                .message
                .contains("found a list")
        );
    }

    #[test]
    fn merge_keys_are_applied() {
        let map = parse_ok("base: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n").expect("parses");
        let derived = map.get("derived").expect("derived");
        assert_eq!(derived.get("x").and_then(Yaml::as_u64), Some(1));
    }
}
