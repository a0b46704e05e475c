//! Which endpoint a method and path name (reference section 4.1 and 4.2).

use http::Method;

/// The three OpenAI call types the gateway proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Chat,
    Completion,
    Embedding,
}

impl CallType {
    /// The path appended to a deployment's `api_base`.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Self::Chat => "/chat/completions",
            Self::Completion => "/completions",
            Self::Embedding => "/embeddings",
        }
    }

    /// The route as LiteLLM names it in messages (`/chat/completions: Invalid model ...`).
    pub fn route_name(self) -> &'static str {
        self.upstream_path()
    }

    pub fn can_stream(self) -> bool {
        !matches!(self, Self::Embedding)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// An LLM call; `path_model` comes from `/engines/{model}/...` or
    /// `/openai/deployments/{model}/...` and overrides the body's `model`.
    Llm {
        call: CallType,
        path_model: Option<String>,
    },
    Models,
    Model(String),
    ModelInfo,
    Liveness,
    Readiness,
    /// `OPTIONS` on a health route.
    HealthOptions,
    /// The path exists but not for this method.
    WrongMethod {
        allow: &'static str,
    },
    Unknown,
}

impl Endpoint {
    /// Whether the endpoint needs a key when a master key is configured.
    pub fn requires_auth(&self) -> bool {
        matches!(
            self,
            Self::Llm { .. } | Self::Models | Self::Model(_) | Self::ModelInfo
        )
    }
}

pub fn route(method: &Method, path: &str) -> Endpoint {
    // FastAPI redirects `/v1/models/` to `/v1/models`; answering it directly is kinder.
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    if let Some((call, path_model)) = llm_route(path) {
        return if method == Method::POST {
            Endpoint::Llm { call, path_model }
        } else {
            Endpoint::WrongMethod { allow: "POST" }
        };
    }
    let get_only = |endpoint: Endpoint| {
        if method == Method::GET || method == Method::HEAD {
            endpoint
        } else {
            Endpoint::WrongMethod { allow: "GET" }
        }
    };
    match path {
        "/models" | "/v1/models" => get_only(Endpoint::Models),
        "/model/info" | "/v1/model/info" => get_only(Endpoint::ModelInfo),
        "/health/liveliness" | "/health/liveness" | "/health/readiness" => {
            if method == Method::OPTIONS {
                Endpoint::HealthOptions
            } else if path == "/health/readiness" {
                get_only(Endpoint::Readiness)
            } else {
                get_only(Endpoint::Liveness)
            }
        }
        _ => {
            let id = path
                .strip_prefix("/v1/models/")
                .or_else(|| path.strip_prefix("/models/"));
            match id {
                Some(id) if !id.is_empty() => get_only(Endpoint::Model(percent_decode(id))),
                _ => Endpoint::Unknown,
            }
        }
    }
}

fn llm_route(path: &str) -> Option<(CallType, Option<String>)> {
    const CALLS: [(CallType, &str); 3] = [
        (CallType::Chat, "/chat/completions"),
        (CallType::Completion, "/completions"),
        (CallType::Embedding, "/embeddings"),
    ];
    for (call, suffix) in CALLS {
        if path == suffix || path.strip_prefix("/v1") == Some(suffix) {
            return Some((call, None));
        }
        let Some(head) = path.strip_suffix(suffix) else {
            continue;
        };
        // `/chat/completions` also ends with `/completions`: the chat arm comes first, and
        // here a model path segment must not end with `/chat`.
        if call == CallType::Completion && head.ends_with("/chat") {
            continue;
        }
        let model = head
            .strip_prefix("/engines/")
            .or_else(|| head.strip_prefix("/openai/deployments/"))
            .or_else(|| head.strip_prefix("/v1/engines/"))
            .or_else(|| head.strip_prefix("/v1/openai/deployments/"));
        if let Some(model) = model.filter(|m| !m.is_empty()) {
            return Some((call, Some(percent_decode(model))));
        }
    }
    None
}

/// Decodes `%XX` escapes (model ids may contain `/`, sent as `%2F`). Invalid escapes are
/// kept as written.
fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn llm(call: CallType, model: Option<&str>) -> Endpoint {
        Endpoint::Llm {
            call,
            path_model: model.map(str::to_string),
        }
    }

    #[test]
    fn the_four_forms_of_each_llm_route() {
        let p = Method::POST;
        for (call, suffix) in [
            (CallType::Chat, "/chat/completions"),
            (CallType::Completion, "/completions"),
            (CallType::Embedding, "/embeddings"),
        ] {
            assert_eq!(route(&p, suffix), llm(call, None));
            assert_eq!(route(&p, &format!("/v1{suffix}")), llm(call, None));
            assert_eq!(
                route(&p, &format!("/engines/gpt-4o{suffix}")),
                llm(call, Some("gpt-4o"))
            );
            assert_eq!(
                route(&p, &format!("/openai/deployments/my-dep{suffix}")),
                llm(call, Some("my-dep"))
            );
        }
    }

    #[test]
    fn wrong_method_and_unknown_paths() {
        assert_eq!(
            route(&Method::GET, "/v1/chat/completions"),
            Endpoint::WrongMethod { allow: "POST" }
        );
        assert_eq!(
            route(&Method::POST, "/v1/models"),
            Endpoint::WrongMethod { allow: "GET" }
        );
        assert_eq!(
            route(&Method::POST, "/v2/chat/completions"),
            Endpoint::Unknown
        );
        assert_eq!(route(&Method::GET, "/"), Endpoint::Unknown);
    }

    #[test]
    fn models_and_health() {
        let g = Method::GET;
        assert_eq!(route(&g, "/v1/models/"), Endpoint::Models);
        assert_eq!(
            route(&g, "/models/openai%2Fgpt-4o"),
            Endpoint::Model("openai/gpt-4o".into())
        );
        assert_eq!(
            route(&g, "/v1/models/openai/gpt-4o"),
            Endpoint::Model("openai/gpt-4o".into())
        );
        assert_eq!(route(&g, "/v1/model/info"), Endpoint::ModelInfo);
        assert_eq!(route(&g, "/health/liveliness"), Endpoint::Liveness);
        assert_eq!(route(&g, "/health/liveness"), Endpoint::Liveness);
        assert_eq!(route(&g, "/health/readiness"), Endpoint::Readiness);
        assert_eq!(
            route(&Method::OPTIONS, "/health/readiness"),
            Endpoint::HealthOptions
        );
        assert!(!route(&g, "/health/readiness").requires_auth());
        assert!(route(&g, "/v1/models").requires_auth());
    }
}
