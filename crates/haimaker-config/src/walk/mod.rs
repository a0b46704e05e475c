//! The schema-driven walk: one file's YAML -> resolved, type-checked JSON values.
//!
//! The walk never stops at a problem: it reports it to the [`Sink`] and goes on with the next
//! key, so one run shows every problem. Values come out resolved (`os.environ/NAME` replaced)
//! and coerced to their schema type; `convert.rs` turns them into the typed `Config`.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use serde_yaml::{Mapping, Value as Yaml};

use crate::Vars;
use crate::coerce::{Problem, Scalar, Shown, coerce, describe};
use crate::error::{Sink, child, item};
use crate::schema::{CREDENTIAL, DEPLOYMENT, Kind, LITELLM_PARAMS, Section, Status, TOP};
use crate::secret::is_secret_param;
use crate::suggest::did_you_mean;

mod shapes;

/// The `os.environ/` prefix LiteLLM resolves anywhere a string is allowed.
pub(crate) const ENV_PREFIX: &str = "os.environ/";

/// A `model_list` or `credential_list` entry and where it was declared.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    pub file: PathBuf,
    pub index: usize,
    pub value: Map<String, Json>,
}

/// One file, walked.
#[derive(Debug)]
pub(crate) struct FileWalk {
    pub file: PathBuf,
    /// Top-level keys other than the two lists, in file order.
    pub sections: Vec<(String, Json)>,
    pub model_list: Vec<Located>,
    pub credential_list: Vec<Located>,
}

pub(crate) struct Walker<'a> {
    file: &'a Path,
    vars: &'a dyn Vars,
    sink: &'a mut Sink,
    not_implemented: &'a mut Vec<String>,
    /// Inside a key that is itself "not implemented": its children are not listed again.
    quiet: bool,
}

/// The variable name of an `os.environ/NAME` value.
pub(crate) fn env_ref(value: &Yaml) -> Option<&str> {
    match value {
        Yaml::String(s) => s.strip_prefix(ENV_PREFIX),
        _ => None,
    }
}

/// Walks one file's top-level map.
pub(crate) fn walk_file(
    file: &Path,
    top: &Mapping,
    vars: &dyn Vars,
    sink: &mut Sink,
    not_implemented: &mut Vec<String>,
) -> FileWalk {
    let mut walker = Walker {
        file,
        vars,
        sink,
        not_implemented,
        quiet: false,
    };
    let mut out = FileWalk {
        file: file.to_path_buf(),
        sections: Vec::new(),
        model_list: Vec::new(),
        credential_list: Vec::new(),
    };
    for (key, value) in top {
        let Some(name) = walker.key_name(key, "") else {
            continue;
        };
        let Some((kind, status)) = TOP.key(name) else {
            walker.unknown_key(&TOP, name, name);
            continue;
        };
        if value.is_null() {
            continue;
        }
        match kind {
            Kind::ModelList => out.model_list = walker.entries(&DEPLOYMENT, value, name),
            Kind::CredentialList => out.credential_list = walker.entries(&CREDENTIAL, value, name),
            // Read before the walk: `include.rs` and `envvars.rs`.
            Kind::EnvVars | Kind::Include => {}
            _ => {
                if let Some(json) = walker.keyed(kind, status, value, name, name) {
                    out.sections.push((name.to_owned(), json));
                }
            }
        }
    }
    out
}

impl Walker<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.sink.push(self.file, path, message);
    }

    /// A map key as a string; other keys (`1:`, `true:`) are reported.
    fn key_name<'v>(&mut self, key: &'v Yaml, path: &str) -> Option<&'v str> {
        match key {
            Yaml::String(s) => Some(s),
            other => {
                let found = describe(other, Shown::Plain);
                self.error(path, format!("expected text keys, found the key {found}"));
                None
            }
        }
    }

    /// Walks a value of a known key, listing it when it is set but not implemented yet.
    fn keyed(
        &mut self,
        kind: Kind,
        status: Status,
        value: &Yaml,
        name: &str,
        path: &str,
    ) -> Option<Json> {
        let outer_quiet = self.quiet;
        self.quiet = outer_quiet || status != Status::Done;
        let json = self.value(kind, value, path, is_secret_param(name));
        self.quiet = outer_quiet;
        let json = json?;
        if status == Status::Later
            && !outer_quiet
            && !is_default(kind, &json)
            && !only_builtin_callbacks(name, &json)
        {
            let listed = generic_path(path);
            if !self.not_implemented.contains(&listed) {
                self.not_implemented.push(listed);
            }
        }
        Some(json)
    }

    fn value(&mut self, kind: Kind, value: &Yaml, path: &str, secret: bool) -> Option<Json> {
        match kind {
            Kind::Str => self.scalar(Scalar::Str, value, path, secret),
            Kind::Secret => self.scalar(Scalar::Str, value, path, true),
            Kind::Bool | Kind::BoolOn => self.scalar(Scalar::Bool, value, path, secret),
            Kind::U16 => self.scalar(Scalar::U16, value, path, secret),
            Kind::U32 => self.scalar(Scalar::U32, value, path, secret),
            Kind::U64 => self.scalar(Scalar::U64, value, path, secret),
            Kind::F64 => self.scalar(Scalar::F64, value, path, secret),
            Kind::PosF64 => self.scalar(Scalar::PosF64, value, path, secret),
            Kind::Secs => self.scalar(Scalar::Secs, value, path, secret),
            Kind::OneOf(options) => self.one_of(options, value, path),
            Kind::StrList => self.str_list(value, path, secret, false),
            Kind::StrOrList => self.str_list(value, path, secret, true),
            Kind::StrMap => self.str_map(value, path),
            Kind::Map => match value {
                Yaml::Mapping(_) => Some(self.free(value, path)),
                other => self.mismatch(path, "a map", other, secret),
            },
            Kind::List => match value {
                Yaml::Sequence(_) => Some(self.free(value, path)),
                other => self.mismatch(path, "a list", other, secret),
            },
            Kind::Any => Some(self.free(value, path)),
            Kind::Section(section) => self.section(section, value, path).map(Json::Object),
            Kind::Fallbacks => self.fallbacks(value, path),
            Kind::AliasMap => self.alias_map(value, path),
            Kind::WebhookMap => self.webhook_map(value, path),
            // Top-level only; handled by `walk_file`.
            Kind::ModelList | Kind::CredentialList | Kind::EnvVars | Kind::Include => None,
        }
    }

    fn mismatch(&mut self, path: &str, expected: &str, found: &Yaml, secret: bool) -> Option<Json> {
        let shown = if secret { Shown::Secret } else { Shown::Plain };
        self.error(
            path,
            format!("expected {expected}, found {}", describe(found, shown)),
        );
        None
    }

    /// `os.environ/NAME` -> the variable's value (and its name, so messages can hide it).
    fn resolve<'v>(
        &mut self,
        value: &'v Yaml,
        path: &str,
    ) -> Option<(Cow<'v, Yaml>, Option<String>)> {
        if let Yaml::Tagged(tagged) = value {
            return self.resolve(&tagged.value, path);
        }
        let Some(name) = env_ref(value) else {
            return Some((Cow::Borrowed(value), None));
        };
        if name.is_empty() {
            self.error(
                path,
                format!("`{ENV_PREFIX}` needs a variable name after the slash"),
            );
            return None;
        }
        match self.vars.get(name) {
            Some(resolved) => Some((Cow::Owned(Yaml::String(resolved)), Some(name.to_owned()))),
            None => {
                self.error(
                    path,
                    format!("environment variable `{name}` is not set (referenced as `{ENV_PREFIX}{name}`)"),
                );
                None
            }
        }
    }

    fn scalar(&mut self, scalar: Scalar, value: &Yaml, path: &str, secret: bool) -> Option<Json> {
        let (resolved, env) = self.resolve(value, path)?;
        match coerce(scalar, &resolved) {
            Ok(json) => Some(json),
            Err(problem) => {
                let shown = match (&env, secret) {
                    (Some(name), _) => Shown::Env(name),
                    (None, true) => Shown::Secret,
                    (None, false) => Shown::Plain,
                };
                let found = describe(&resolved, shown);
                let message = match problem {
                    Problem::Expected(expected) => format!("expected {expected}, found {found}"),
                    Problem::Rule(rule) => format!("{rule}, found {found}"),
                };
                self.error(path, message);
                None
            }
        }
    }

    fn one_of(&mut self, options: &[&str], value: &Yaml, path: &str) -> Option<Json> {
        let (resolved, env) = self.resolve(value, path)?;
        let found = match (&*resolved, &env) {
            (Yaml::String(s), _) if options.contains(&s.as_str()) => {
                return Some(Json::String(s.clone()));
            }
            (_, Some(name)) => describe(&resolved, Shown::Env(name)),
            (other, None) => describe(other, Shown::Plain),
        };
        let hint = match (&*resolved, &env) {
            (Yaml::String(s), None) => did_you_mean(s, options)
                .map(|o| format!("; did you mean `{o}`?"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        self.error(
            path,
            format!(
                "expected one of {}, found {found}{hint}",
                options.join(", ")
            ),
        );
        None
    }

    fn str_list(
        &mut self,
        value: &Yaml,
        path: &str,
        secret: bool,
        single_ok: bool,
    ) -> Option<Json> {
        match value {
            Yaml::Sequence(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, entry) in items.iter().enumerate() {
                    if let Some(json) = self.scalar(Scalar::Str, entry, &item(path, i), secret) {
                        out.push(json);
                    }
                }
                Some(Json::Array(out))
            }
            Yaml::String(_) if single_ok => {
                let json = self.scalar(Scalar::Str, value, path, secret)?;
                Some(Json::Array(vec![json]))
            }
            other => self.mismatch(path, "a list of strings", other, secret),
        }
    }

    fn str_map(&mut self, value: &Yaml, path: &str) -> Option<Json> {
        let Yaml::Mapping(map) = value else {
            return self.mismatch(path, "a map of names to strings", value, false);
        };
        let mut out = Map::new();
        for (key, entry) in map {
            let Some(name) = self.key_name(key, path) else {
                continue;
            };
            if entry.is_null() {
                continue;
            }
            let entry_path = child(path, name);
            // `Authorization: Bearer ...` is a secret even inside a headers map.
            if let Some(json) = self.scalar(Scalar::Str, entry, &entry_path, is_secret_param(name))
            {
                out.insert(name.to_owned(), json);
            }
        }
        Some(Json::Object(out))
    }

    /// Free-form values: any shape, with `os.environ/` strings resolved throughout.
    fn free(&mut self, value: &Yaml, path: &str) -> Json {
        match value {
            Yaml::Null => Json::Null,
            Yaml::Bool(b) => Json::Bool(*b),
            Yaml::Number(n) => {
                if let Some(u) = n.as_u64() {
                    Json::from(u)
                } else if let Some(i) = n.as_i64() {
                    Json::from(i)
                } else {
                    let f = n.as_f64().and_then(serde_json::Number::from_f64);
                    f.map(Json::Number).unwrap_or_else(|| {
                        self.error(path, format!("expected a finite number, found {n}"));
                        Json::Null
                    })
                }
            }
            Yaml::String(s) => match self.resolve(value, path) {
                Some((resolved, _)) => match resolved.into_owned() {
                    Yaml::String(r) => Json::String(r),
                    _ => Json::String(s.clone()),
                },
                None => Json::Null,
            },
            Yaml::Sequence(items) => Json::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, entry)| self.free(entry, &item(path, i)))
                    .collect(),
            ),
            Yaml::Mapping(map) => {
                let mut out = Map::new();
                for (key, entry) in map {
                    let name = match key {
                        Yaml::String(s) => s.clone(),
                        Yaml::Number(n) => n.to_string(),
                        Yaml::Bool(b) => b.to_string(),
                        other => {
                            let found = describe(other, Shown::Plain);
                            self.error(path, format!("expected text keys, found the key {found}"));
                            continue;
                        }
                    };
                    let json = self.free(entry, &child(path, &name));
                    out.insert(name, json);
                }
                Json::Object(out)
            }
            Yaml::Tagged(tagged) => self.free(&tagged.value, path),
        }
    }

    /// A map checked against a key table.
    pub(crate) fn section(
        &mut self,
        section: &Section,
        value: &Yaml,
        path: &str,
    ) -> Option<Map<String, Json>> {
        let map = match value {
            Yaml::Mapping(map) => map,
            Yaml::Null => return Some(Map::new()),
            other => {
                self.mismatch(path, "a map", other, false);
                return None;
            }
        };
        let mut out = Map::new();
        for (key, entry) in map {
            let Some(name) = self.key_name(key, path) else {
                continue;
            };
            let key_path = child(path, name);
            let known = section
                .key(name)
                .or_else(|| section.extra.and_then(|extra| extra(name)));
            let Some((kind, status)) = known else {
                self.unknown_key(section, name, &key_path);
                continue;
            };
            // LiteLLM reads `key:` (null) as "not set".
            if entry.is_null() {
                continue;
            }
            if let Some(json) = self.keyed(kind, status, entry, name, &key_path) {
                out.insert(name.to_owned(), json);
            }
        }
        for required in section.required {
            let present = map.get(*required).is_some_and(|v| !v.is_null());
            if !present {
                self.error(path, format!("missing required key `{required}`"));
            } else if out
                .get(*required)
                .and_then(Json::as_str)
                .is_some_and(|s| s.trim().is_empty())
            {
                self.error(&child(path, required), "must not be empty");
            }
        }
        Some(out)
    }

    fn unknown_key(&mut self, section: &Section, name: &str, path: &str) {
        if name == "model_info" && std::ptr::eq(section, &LITELLM_PARAMS) {
            self.error(
                path,
                "unknown key; `model_info` goes next to `litellm_params`, not inside it",
            );
            return;
        }
        if let Some(home) = section.homes.iter().find(|home| home.key(name).is_some()) {
            let here = if section.name.is_empty() {
                "at the top level"
            } else {
                "here"
            };
            self.error(
                path,
                format!("unknown key {here}; it belongs in `{}`", home.name),
            );
            return;
        }
        let mut names = section.names();
        names.extend_from_slice(section.also);
        let message = match did_you_mean(name, &names) {
            Some(close) => format!("unknown key; did you mean `{close}`?"),
            None if names.len() <= 8 => {
                format!("unknown key; expected one of: {}", names.join(", "))
            }
            None => "unknown key".to_owned(),
        };
        self.error(path, message);
    }

    /// `model_list` / `credential_list`: a list of maps checked against `section`.
    fn entries(&mut self, section: &Section, value: &Yaml, path: &str) -> Vec<Located> {
        let Yaml::Sequence(items) = value else {
            self.mismatch(path, "a list", value, false);
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (index, entry) in items.iter().enumerate() {
            let entry_path = item(path, index);
            if !matches!(entry, Yaml::Mapping(_)) {
                self.mismatch(&entry_path, "a map", entry, false);
                continue;
            }
            if let Some(map) = self.section(section, entry, &entry_path) {
                out.push(Located {
                    file: self.file.to_path_buf(),
                    index,
                    value: map,
                });
            }
        }
        out
    }
}

/// Whether a set value still means LiteLLM's default (so it is not worth a warning).
/// `callbacks: ["prometheus"]` (and `prometheus_system` in `service_callback`) asks for what
/// haimaker always does (`/metrics`): not a missing feature. Other callbacks still are.
fn only_builtin_callbacks(name: &str, value: &Json) -> bool {
    let builtin = |v: &Json| matches!(v.as_str(), Some("prometheus" | "prometheus_system"));
    matches!(
        name,
        "callbacks" | "success_callback" | "failure_callback" | "service_callback"
    ) && match value {
        Json::Array(items) => items.iter().all(builtin),
        other => builtin(other),
    }
}

fn is_default(kind: Kind, value: &Json) -> bool {
    match value {
        Json::Null => true,
        Json::Bool(b) => match kind {
            Kind::BoolOn => *b,
            _ => !*b,
        },
        Json::Array(a) => a.is_empty(),
        Json::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// `model_list[3].litellm_params.order` -> `model_list[*].litellm_params.order`, so a key set
/// on many deployments is listed once.
fn generic_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[*]");
            }
            ']' if in_index => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_path_drops_indexes() {
        assert_eq!(
            generic_path("model_list[12].litellm_params.order"),
            "model_list[*].litellm_params.order"
        );
        assert_eq!(
            generic_path("general_settings.alerting"),
            "general_settings.alerting"
        );
    }

    #[test]
    fn defaults_are_not_worth_a_warning() {
        assert!(is_default(Kind::Bool, &Json::Bool(false)));
        assert!(!is_default(Kind::Bool, &Json::Bool(true)));
        assert!(is_default(Kind::BoolOn, &Json::Bool(true)));
        assert!(is_default(Kind::StrList, &Json::Array(vec![])));
        assert!(!is_default(Kind::Str, &Json::from("x")));
    }
}
