//! Routing-state scripts that need one command per key (a script keeps them to one round trip).

use super::LuaScript;

/// Remaining TTL (ms) of each key: `-2` missing, `-1` no TTL.
pub(crate) static PTTLS: LuaScript = LuaScript::new(
    r#"
local out = {}
for i = 1, #KEYS do out[i] = redis.call('PTTL', KEYS[i]) end
return out
"#,
);

/// Pushes a latency sample, keeps the newest N, sets the TTL.
///
/// KEYS: `[1]` the list. ARGV: `[1]` sample, `[2]` index of the last kept (N - 1), `[3]` TTL (ms).
pub(crate) static RECORD_LATENCY: LuaScript = LuaScript::new(
    r#"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"#,
);

/// Every latency list, newest sample first (an empty list for a key that does not exist).
pub(crate) static LATENCIES: LuaScript = LuaScript::new(
    r#"
local out = {}
for i = 1, #KEYS do out[i] = redis.call('LRANGE', KEYS[i], 0, -1) end
return out
"#,
);
