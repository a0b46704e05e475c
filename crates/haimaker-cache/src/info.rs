//! `INFO` and `CLIENT LIST` text -> the JSON LiteLLM's `/cache/redis/info` answers with
//! (redis-py's parsed forms: one object of fields, one object per client).

use serde_json::{Map, Value};

/// `# Section` headers and blank lines dropped; `field:value` pairs, numbers as numbers.
pub fn parse_info(text: &str) -> Map<String, Value> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), scalar(v)))
        .collect()
}

/// One object per line of `CLIENT LIST` (`id=5 addr=127.0.0.1:5 ... cmd=client|list`).
pub fn parse_client_list(text: &str) -> Vec<Value> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            Value::Object(
                line.split(' ')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect(),
            )
        })
        .collect()
}

fn scalar(v: &str) -> Value {
    if let Ok(n) = v.parse::<i64>() {
        return Value::from(n);
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_and_client_list_parse_as_redis_py_does() {
        let info = parse_info(
            "# Server\r\nredis_version:7.0.15\r\ntcp_port:6379\r\n\r\n# Memory\r\nmem_fragmentation_ratio:1.25\r\n",
        );
        assert_eq!(info["redis_version"], "7.0.15");
        assert_eq!(info["tcp_port"], 6379);
        assert_eq!(info["mem_fragmentation_ratio"], 1.25);
        let clients = parse_client_list(
            "id=3 addr=127.0.0.1:50000 name= cmd=client|list\nid=4 addr=127.0.0.1:50001 name=x cmd=ping\n",
        );
        assert_eq!(clients.len(), 2);
        assert_eq!(clients[1]["id"], "4");
        assert_eq!(clients[0]["name"], "");
    }
}
