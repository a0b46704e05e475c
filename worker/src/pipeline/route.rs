//! Which endpoint a method and path name (reference section 4.1 and 4.2).

use http::Method;

/// The call types the gateway proxies: OpenAI's three, and Anthropic's Messages API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Chat,
    Completion,
    Embedding,
    /// `POST /v1/messages` in the Anthropic format: passed through to Anthropic deployments,
    /// translated to and from a chat completion for the others.
    Messages,
}

impl CallType {
    /// The path appended to a deployment's `api_base`.
    pub fn upstream_path(self) -> &'static str {
        match self {
            Self::Chat | Self::Messages => "/chat/completions",
            Self::Completion => "/completions",
            Self::Embedding => "/embeddings",
        }
    }

    /// The route as LiteLLM names it in messages (`/chat/completions: Invalid model ...`).
    pub fn route_name(self) -> &'static str {
        match self {
            Self::Messages => "/v1/messages",
            other => other.upstream_path(),
        }
    }

    pub fn can_stream(self) -> bool {
        !matches!(self, Self::Embedding)
    }
}

/// The management endpoints (reference section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    KeyGenerate,
    KeyInfo,
    KeyUpdate,
    KeyDelete,
    KeyList,
    KeyRegenerate,
    KeyBlock,
    KeyUnblock,
    UserNew,
    UserInfo,
    UserUpdate,
    UserDelete,
    UserList,
    TeamNew,
    TeamInfo,
    TeamUpdate,
    TeamDelete,
    TeamList,
    TeamMemberAdd,
    TeamMemberDelete,
    SpendLogs,
    ModelNew,
    ModelUpdate,
    ModelDelete,
    CachePing,
    CacheDelete,
    CacheFlushAll,
    CacheRedisInfo,
    /// `/health/services?service=slack|webhook`: test alerts (admin).
    HealthServices,
}

impl AdminRoute {
    /// The route's path as LiteLLM names it in messages.
    pub fn path(self) -> &'static str {
        ADMIN_ROUTES
            .iter()
            .find(|(_, _, r)| *r == self)
            .map_or("", |(path, _, _)| path)
    }
}

/// Path, method, route. `/key/{key}/regenerate` is matched separately.
const ADMIN_ROUTES: &[(&str, &str, AdminRoute)] = &[
    ("/key/generate", "POST", AdminRoute::KeyGenerate),
    ("/key/info", "GET", AdminRoute::KeyInfo),
    ("/key/update", "POST", AdminRoute::KeyUpdate),
    ("/key/delete", "POST", AdminRoute::KeyDelete),
    ("/key/list", "GET", AdminRoute::KeyList),
    ("/key/regenerate", "POST", AdminRoute::KeyRegenerate),
    ("/key/block", "POST", AdminRoute::KeyBlock),
    ("/key/unblock", "POST", AdminRoute::KeyUnblock),
    ("/user/new", "POST", AdminRoute::UserNew),
    ("/user/info", "GET", AdminRoute::UserInfo),
    ("/user/update", "POST", AdminRoute::UserUpdate),
    ("/user/delete", "POST", AdminRoute::UserDelete),
    ("/user/list", "GET", AdminRoute::UserList),
    ("/team/new", "POST", AdminRoute::TeamNew),
    ("/team/info", "GET", AdminRoute::TeamInfo),
    ("/team/update", "POST", AdminRoute::TeamUpdate),
    ("/team/delete", "POST", AdminRoute::TeamDelete),
    ("/team/list", "GET", AdminRoute::TeamList),
    ("/team/member_add", "POST", AdminRoute::TeamMemberAdd),
    ("/team/member_delete", "POST", AdminRoute::TeamMemberDelete),
    ("/spend/logs", "GET", AdminRoute::SpendLogs),
    ("/model/new", "POST", AdminRoute::ModelNew),
    ("/model/update", "POST", AdminRoute::ModelUpdate),
    ("/model/delete", "POST", AdminRoute::ModelDelete),
    ("/cache/ping", "GET", AdminRoute::CachePing),
    ("/cache/delete", "POST", AdminRoute::CacheDelete),
    ("/cache/flushall", "POST", AdminRoute::CacheFlushAll),
    ("/cache/redis/info", "GET", AdminRoute::CacheRedisInfo),
    ("/health/services", "GET", AdminRoute::HealthServices),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A management endpoint; `key` is the path key of `/key/{key}/regenerate`.
    Admin {
        route: AdminRoute,
        key: Option<String>,
    },
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
    /// The pod's Prometheus metrics (the supervisor's aggregate of every worker).
    Metrics,
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
            Self::Llm { .. } | Self::Models | Self::Model(_) | Self::ModelInfo | Self::Admin { .. }
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
    if let Some(endpoint) = admin_route(method, path) {
        return endpoint;
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
        "/metrics" => get_only(Endpoint::Metrics),
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

fn admin_route(method: &Method, path: &str) -> Option<Endpoint> {
    if let Some(key) = path
        .strip_prefix("/key/")
        .and_then(|rest| rest.strip_suffix("/regenerate"))
        .filter(|k| !k.is_empty() && !k.contains('/'))
    {
        return Some(if method == Method::POST {
            Endpoint::Admin {
                route: AdminRoute::KeyRegenerate,
                key: Some(percent_decode(key)),
            }
        } else {
            Endpoint::WrongMethod { allow: "POST" }
        });
    }
    let (_, allowed, route) = ADMIN_ROUTES.iter().find(|(p, _, _)| *p == path)?;
    Some(if method.as_str() == *allowed {
        Endpoint::Admin {
            route: *route,
            key: None,
        }
    } else if *allowed == "GET" {
        Endpoint::WrongMethod { allow: "GET" }
    } else {
        Endpoint::WrongMethod { allow: "POST" }
    })
}

fn llm_route(path: &str) -> Option<(CallType, Option<String>)> {
    if path == "/v1/messages" {
        return Some((CallType::Messages, None));
    }
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
        assert!(route(&Method::POST, "/key/generate").requires_auth());
        assert!(route(&Method::POST, "/model/new").requires_auth());
    }

    #[test]
    fn admin_routes() {
        let p = Method::POST;
        assert_eq!(
            route(&p, "/key/generate"),
            Endpoint::Admin {
                route: AdminRoute::KeyGenerate,
                key: None
            }
        );
        assert_eq!(
            route(&Method::GET, "/key/info"),
            Endpoint::Admin {
                route: AdminRoute::KeyInfo,
                key: None
            }
        );
        assert_eq!(
            route(&Method::GET, "/key/generate"),
            Endpoint::WrongMethod { allow: "POST" }
        );
        assert_eq!(
            route(&p, "/key/sk-abc/regenerate"),
            Endpoint::Admin {
                route: AdminRoute::KeyRegenerate,
                key: Some("sk-abc".into())
            }
        );
        assert_eq!(
            route(&Method::GET, "/spend/logs"),
            Endpoint::Admin {
                route: AdminRoute::SpendLogs,
                key: None
            }
        );
        assert_eq!(AdminRoute::TeamMemberAdd.path(), "/team/member_add");
        assert_eq!(
            route(&Method::GET, "/cache/ping"),
            Endpoint::Admin {
                route: AdminRoute::CachePing,
                key: None
            }
        );
        assert_eq!(
            route(&p, "/cache/flushall"),
            Endpoint::Admin {
                route: AdminRoute::CacheFlushAll,
                key: None
            }
        );
        assert_eq!(
            route(&Method::GET, "/cache/delete"),
            Endpoint::WrongMethod { allow: "POST" }
        );
    }
}
