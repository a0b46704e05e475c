//! The load pipeline: read files and includes -> `environment_variables` -> walk each file ->
//! merge like LiteLLM -> typed `Config` -> cross-key checks.
//!
//! Each file is walked on its own so its problems name it; the walked values are then merged
//! with LiteLLM's include rule: a list whose key already exists is extended (`model_list`
//! entries are appended), any other key is replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use crate::error::Sink;
use crate::include::{self, SourceFile};
use crate::walk::{self, Located};
use crate::{ConfigErrors, Layered, Loaded, MapVars, Vars, check, convert, envvars};

/// All files walked and merged.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    /// Top-level keys (other than the lists below) and the file that set them.
    sections: BTreeMap<String, (PathBuf, Json)>,
    pub model_list: Vec<Located>,
    pub credential_list: Vec<Located>,
}

impl Merged {
    pub(crate) fn section(&self, name: &str) -> Option<&Json> {
        self.sections.get(name).map(|(_, value)| value)
    }

    pub(crate) fn section_with_file(&self, name: &str) -> Option<(&Path, &Json)> {
        self.sections
            .get(name)
            .map(|(file, value)| (file.as_path(), value))
    }

    fn absorb(&mut self, other: Merged) {
        self.model_list.extend(other.model_list);
        self.credential_list.extend(other.credential_list);
        for (key, (file, value)) in other.sections {
            match (self.sections.get_mut(&key), value) {
                (Some((_, Json::Array(existing))), Json::Array(more)) => existing.extend(more),
                (_, value) => {
                    self.sections.insert(key, (file, value));
                }
            }
        }
    }
}

/// Loads `path` (and its includes), resolving `os.environ/NAME` through `vars`.
pub fn load(path: &Path, vars: &dyn Vars) -> Result<Loaded, ConfigErrors> {
    let mut sink = Sink::default();
    match include::load_tree(path, &mut sink) {
        Some(tree) => finish(&tree, vars, sink),
        None => Err(sink.into_errors()),
    }
}

/// Loads config `text` as if read from `path`: messages name `path`, and includes are read
/// relative to its directory. For tests and for configs that do not come from a file.
pub fn load_from_str(path: &Path, text: &str, vars: &dyn Vars) -> Result<Loaded, ConfigErrors> {
    let mut sink = Sink::default();
    match include::tree_from_text(path, text, &mut sink) {
        Some(tree) => finish(&tree, vars, sink),
        None => Err(sink.into_errors()),
    }
}

fn finish(tree: &SourceFile, vars: &dyn Vars, mut sink: Sink) -> Result<Loaded, ConfigErrors> {
    let environment_variables = envvars::environment(tree, vars, &mut sink);
    let file_vars = MapVars(environment_variables.clone());
    // `environment_variables` win over the real environment, as in LiteLLM.
    let vars = Layered {
        over: &file_vars,
        under: vars,
    };
    let mut not_implemented = Vec::new();
    let merged = merge(tree, &vars, &mut sink, &mut not_implemented);
    let config = convert::build(&merged, environment_variables);
    check::check(&merged, &config, &mut sink);
    if sink.is_empty() {
        Ok(Loaded {
            config,
            not_implemented,
        })
    } else {
        Err(sink.into_errors())
    }
}

/// Walks `file`, then merges each of its includes (already merged with theirs) into it.
fn merge(
    file: &SourceFile,
    vars: &dyn Vars,
    sink: &mut Sink,
    not_implemented: &mut Vec<String>,
) -> Merged {
    let walked = walk::walk_file(&file.file, &file.top, vars, sink, not_implemented);
    let mut merged = Merged {
        sections: walked
            .sections
            .into_iter()
            .map(|(key, value)| (key, (walked.file.clone(), value)))
            .collect(),
        model_list: walked.model_list,
        credential_list: walked.credential_list,
    };
    for child in &file.children {
        let included = merge(child, vars, sink, not_implemented);
        merged.absorb(included);
    }
    merged
}
