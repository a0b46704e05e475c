//! What the request adapters of Anthropic, Gemini and Bedrock share: OpenAI's `messages` list
//! -> the provider's system blocks and alternating user / assistant turns, and the parsing of
//! the OpenAI fields whose meaning is the same for all three (`stop`, `tool_choice`, tool call
//! arguments, `image_url` parts).
//!
//! The walk over the messages is one ([`convert`]): `system`/`developer` messages go to the
//! system blocks, `user` content and `tool` results to user turns, assistant content and its
//! `tool_calls` to assistant turns; turns without blocks are dropped and consecutive turns of
//! one role are merged (the APIs want them alternating). How content, a tool call and a tool
//! result look is the provider's ([`TurnFormat`]).

use serde_json::{Map, Value, json};

use crate::TranslateError;

/// A provider's shape of turns and blocks.
pub(crate) trait TurnFormat {
    /// The provider's name in error messages.
    const PROVIDER: &'static str;
    /// The role of the assistant's turns.
    const ASSISTANT: &'static str;
    /// The key of a turn's blocks.
    const BLOCKS: &'static str;

    /// Message content (a string or a list of parts) -> blocks; `param` is `messages[i]`.
    fn content(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError>;

    /// The blocks a `system` or `developer` message adds to the system instruction.
    fn system(&mut self, content: Value, param: &str) -> Result<Vec<Value>, TranslateError> {
        self.content(content, param)
    }

    /// One of an assistant message's `tool_calls`, with its arguments parsed -> a block.
    fn tool_call(&mut self, call: &Value, function: &Value, arguments: Value) -> Value;

    /// A `tool` (or legacy `function`) message -> the block of the user turn that carries it.
    fn tool_result(
        &mut self,
        message: &Map<String, Value>,
        content: Value,
        param: &str,
    ) -> Result<Value, TranslateError>;
}

/// OpenAI messages -> (system blocks, turns as `{"role", F::BLOCKS}` objects).
pub(crate) fn convert<F: TurnFormat>(
    format: &mut F,
    messages: Vec<Value>,
) -> Result<(Vec<Value>, Vec<Value>), TranslateError> {
    let mut system = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let param = format!("messages[{i}]");
        let Value::Object(mut m) = message else {
            return Err(TranslateError::new("each message must be an object").with_param(param));
        };
        let role = m
            .get("role")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let content = m.remove("content").unwrap_or(Value::Null);
        let (role, blocks) = match role.as_str() {
            "system" | "developer" => {
                system.extend(format.system(content, &param)?);
                continue;
            }
            "user" => ("user", format.content(content, &param)?),
            "assistant" => {
                let mut blocks = format.content(content, &param)?;
                let calls = match m.remove("tool_calls") {
                    Some(Value::Array(a)) => a,
                    _ => Vec::new(),
                };
                for (j, call) in calls.into_iter().enumerate() {
                    let function = call.get("function").unwrap_or(&Value::Null);
                    let arguments = tool_call_arguments(function, &param, j)?;
                    blocks.push(format.tool_call(&call, function, arguments));
                }
                (F::ASSISTANT, blocks)
            }
            "tool" | "function" => ("user", vec![format.tool_result(&m, content, &param)?]),
            other => {
                return Err(TranslateError::new(format!(
                    "message role `{other}` is not supported by {}",
                    F::PROVIDER
                ))
                .with_param(format!("{param}.role")));
            }
        };
        push_turn(&mut turns, role, blocks);
    }
    if turns.is_empty() {
        return Err(TranslateError::new(format!(
            "{} needs at least one user or assistant message",
            F::PROVIDER
        ))
        .with_param("messages"));
    }
    let turns = turns
        .into_iter()
        .map(|(role, blocks)| {
            let mut turn = Map::new();
            turn.insert("role".into(), json!(role));
            turn.insert(F::BLOCKS.into(), Value::Array(blocks));
            Value::Object(turn)
        })
        .collect();
    Ok((system, turns))
}

/// Appends `blocks` to the last turn when it has the same role, else starts a turn; nothing
/// for no blocks.
fn push_turn(turns: &mut Vec<(&'static str, Vec<Value>)>, role: &'static str, blocks: Vec<Value>) {
    if blocks.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if *last == role => existing.extend(blocks),
        _ => turns.push((role, blocks)),
    }
}

/// A tool call's `function.arguments` (a JSON text; empty means `{}`) as JSON.
fn tool_call_arguments(function: &Value, param: &str, j: usize) -> Result<Value, TranslateError> {
    let arguments = function
        .get("arguments")
        .and_then(Value::as_str)
        .unwrap_or("");
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments).map_err(|e| {
        TranslateError::new(format!("tool call arguments are not valid JSON ({e})"))
            .with_param(format!("{param}.tool_calls[{j}].function.arguments"))
    })
}

/// The call a tool message answers: its `tool_call_id`, else its `name`, else null.
pub(crate) fn answered_call(message: &Map<String, Value>) -> Value {
    message
        .get("tool_call_id")
        .or_else(|| message.get("name"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// The text of a tool message's content: a string, the text parts of a list joined, or the
/// JSON text of anything else.
pub(crate) fn tool_result_text(content: &Value) -> String {
    match content {
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        other => crate::util::text_of(other),
    }
}

/// The URL of an `image_url` part (`{"image_url": {"url": ...}}` or `{"image_url": "..."}`).
pub(crate) fn image_url(part: &Value) -> &str {
    part.get("image_url")
        .and_then(|i| i.get("url").or(Some(i)))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `stop` -> a list of stop sequences; `None` for null.
pub(crate) fn stop_sequences(value: Value) -> Result<Option<Value>, TranslateError> {
    match value {
        Value::String(s) => Ok(Some(json!([s]))),
        Value::Array(a) => Ok(Some(Value::Array(a))),
        Value::Null => Ok(None),
        _ => Err(
            TranslateError::new("`stop` must be a string or a list of strings").with_param("stop"),
        ),
    }
}

/// An OpenAI `tool_choice`, read.
pub(crate) enum ToolChoice<'a> {
    Auto,
    /// `required` (or Anthropic's `any`).
    Any,
    None,
    /// `{"type": "function", "function": {"name": ...}}`.
    Function(&'a str),
    /// Any other object (the provider's own form, for those that take it).
    Other(&'a Map<String, Value>),
}

/// Reads `tool_choice`; `None` for null.
pub(crate) fn tool_choice(choice: &Value) -> Result<Option<ToolChoice<'_>>, TranslateError> {
    Ok(Some(match choice {
        Value::Null => return Ok(None),
        Value::String(s) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "required" | "any" => ToolChoice::Any,
            "none" => ToolChoice::None,
            other => {
                return Err(TranslateError::new(format!(
                    "tool_choice `{other}` is not one of auto, required, none"
                ))
                .with_param("tool_choice"));
            }
        },
        Value::Object(o) => match o
            .get("function")
            .and_then(|f| f.get("name"))
            .and_then(Value::as_str)
        {
            Some(name) => ToolChoice::Function(name),
            None => ToolChoice::Other(o),
        },
        _ => {
            return Err(
                TranslateError::new("tool_choice must be a string or an object")
                    .with_param("tool_choice"),
            );
        }
    }))
}

/// The `name` and (when present) `description` of an OpenAI tool's `function`, the start of
/// every provider's tool declaration.
pub(crate) fn function_declaration(function: &Value) -> Map<String, Value> {
    let mut declaration = Map::new();
    declaration.insert(
        "name".into(),
        function.get("name").cloned().unwrap_or(Value::Null),
    );
    if let Some(d) = function.get("description") {
        declaration.insert("description".into(), d.clone());
    }
    declaration
}

/// The `tools` list, or the error every provider gives for anything else.
pub(crate) fn tools_list(tools: Value) -> Result<Vec<Value>, TranslateError> {
    match tools {
        Value::Array(tools) => Ok(tools),
        _ => Err(TranslateError::new("`tools` must be a list").with_param("tools")),
    }
}

/// Removes `messages` from the body: it must be a list (and, unless `allow_empty`, a
/// non-empty one; Anthropic reports an empty list as having no user or assistant message).
pub(crate) fn take_messages(
    body: &mut Map<String, Value>,
    allow_empty: bool,
) -> Result<Vec<Value>, TranslateError> {
    match body.remove("messages") {
        Some(Value::Array(m)) if allow_empty || !m.is_empty() => Ok(m),
        _ => Err(TranslateError::new("`messages` must be a non-empty list").with_param("messages")),
    }
}
