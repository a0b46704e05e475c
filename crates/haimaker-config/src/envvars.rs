//! `environment_variables`: read before anything else, because LiteLLM sets them into the
//! process environment at load, so every later `os.environ/NAME` sees them (and they win
//! over the real environment).
//!
//! Merging follows LiteLLM's include rule for a map: the last file (in include order) that
//! sets `environment_variables` provides the whole map. Every file's map is type-checked;
//! only the winning one is resolved.

use std::collections::BTreeMap;
use std::path::Path;

use serde_yaml::{Mapping, Value as Yaml};

use crate::Vars;
use crate::coerce::{Shown, describe};
use crate::error::{Sink, child};
use crate::include::SourceFile;
use crate::walk::{ENV_PREFIX, env_ref};

const KEY: &str = "environment_variables";

/// The resolved `environment_variables` of the whole tree.
pub(crate) fn environment(
    tree: &SourceFile,
    vars: &dyn Vars,
    sink: &mut Sink,
) -> BTreeMap<String, String> {
    let mut winner: Option<(&Path, &Mapping)> = None;
    visit(tree, &mut |file| match file.top.get(KEY) {
        None | Some(Yaml::Null) => {}
        Some(Yaml::Mapping(map)) => {
            check(&file.file, map, sink);
            winner = Some((&file.file, map));
        }
        Some(other) => {
            let found = describe(other, Shown::Plain);
            sink.push(
                &file.file,
                KEY,
                format!("expected a map of variable names to values, found {found}"),
            );
        }
    });
    let Some((file, map)) = winner else {
        return BTreeMap::new();
    };
    resolve(file, map, vars, sink)
}

fn visit<'t>(file: &'t SourceFile, f: &mut impl FnMut(&'t SourceFile)) {
    f(file);
    for child in &file.children {
        visit(child, f);
    }
}

/// Type problems, reported for every file that sets the map.
fn check(file: &Path, map: &Mapping, sink: &mut Sink) {
    for (key, value) in map {
        let Yaml::String(name) = key else {
            let found = describe(key, Shown::Plain);
            sink.push(
                file,
                KEY,
                format!("expected variable names, found the key {found}"),
            );
            continue;
        };
        if !matches!(value, Yaml::String(_) | Yaml::Number(_) | Yaml::Bool(_)) {
            // A variable's value may well be a secret: show only its type.
            let found = describe(value, Shown::Secret);
            sink.push(
                file,
                &child(KEY, name),
                format!("expected a string, number or boolean, found {found}"),
            );
        }
    }
}

/// Values in file order; each may refer to the ones before it.
fn resolve(
    file: &Path,
    map: &Mapping,
    vars: &dyn Vars,
    sink: &mut Sink,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (key, value) in map {
        let Yaml::String(name) = key else { continue };
        let text = match value {
            Yaml::String(s) => match env_ref(value) {
                Some(var) => match env.get(var).cloned().or_else(|| vars.get(var)) {
                    Some(resolved) => resolved,
                    None => {
                        let message = format!(
                            "environment variable `{var}` is not set (referenced as `{ENV_PREFIX}{var}`)"
                        );
                        sink.push(file, &child(KEY, name), message);
                        continue;
                    }
                },
                None => s.clone(),
            },
            Yaml::Number(n) => n.to_string(),
            // LiteLLM stores `str(value)`: Python spells booleans `True` / `False`.
            Yaml::Bool(true) => "True".to_owned(),
            Yaml::Bool(false) => "False".to_owned(),
            _ => continue,
        };
        env.insert(name.clone(), text);
    }
    env
}
