//! Rate-limit scripts: fixed one-minute windows plus an in-flight counter per scope.

use super::LuaScript;

/// Grants up to `want` requests (a lease: the caller admits them locally) in every scope at once, or
/// none: the grant is the largest `g <= want` that every scope has room for (rpm left this minute,
/// parallel slots free); a scope at its tpm refuses. In-flight counters move only for scopes with a
/// parallel limit: release exactly those (as many as were granted and not used).
///
/// KEYS, 3 per scope i: `[3i-2]` requests this minute, `[3i-1]` tokens this minute, `[3i]` in flight.
/// ARGV: `[1]` window TTL (s), `[2]` in-flight safety TTL (s), `[3]` want (>= 1), then 3 per scope
/// from `[4]`: rpm limit, tpm limit, parallel limit (`-1` = no limit).
/// Returns `{allowed 1|0, refusing scope (1-based, 0 = none), reason (0, 1 rpm, 2 tpm, 3 parallel),
/// granted, then per scope: requests left, tokens left (-1 = no limit)}`.
pub(crate) static ADMIT: LuaScript = LuaScript::new(
    r#"
local n = #KEYS / 3
local window_ttl = tonumber(ARGV[1])
local parallel_ttl = tonumber(ARGV[2])
local grant = tonumber(ARGV[3])
local req, tok, limits = {}, {}, {}
local refused, reason = 0, 0

-- Pass 1: read and check; nothing is written until every scope has passed.
for i = 1, n do
  local rpm, tpm, par_limit = tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2]), tonumber(ARGV[3 * i + 3])
  limits[i] = {rpm, tpm, par_limit}
  req[i] = tonumber(redis.call('GET', KEYS[3 * i - 2]) or '0')
  tok[i] = tonumber(redis.call('GET', KEYS[3 * i - 1]) or '0')
  if refused == 0 then
    local par = tonumber(redis.call('GET', KEYS[3 * i]) or '0')
    if rpm >= 0 and req[i] + 1 > rpm then
      refused, reason = i, 1
    elseif tpm >= 0 and tok[i] >= tpm then
      -- Tokens are only known after a call, so a scope is open while it is under its limit.
      refused, reason = i, 2
    elseif par_limit >= 0 and par + 1 > par_limit then
      refused, reason = i, 3
    else
      if rpm >= 0 then grant = math.min(grant, rpm - req[i]) end
      if par_limit >= 0 then grant = math.min(grant, par_limit - par) end
    end
  end
end

-- Pass 2: everyone passed, count the grant everywhere.
if refused == 0 then
  for i = 1, n do
    req[i] = redis.call('INCRBY', KEYS[3 * i - 2], grant)
    -- A window's TTL is set once, when it is created: a fixed window must not slide.
    if req[i] == grant then redis.call('EXPIRE', KEYS[3 * i - 2], window_ttl) end
    -- Only scopes with a parallel limit count in-flight requests (and only those are released).
    if limits[i][3] >= 0 then
      redis.call('INCRBY', KEYS[3 * i], grant)
      -- Refreshed on every grant: it only has to outlive the requests in flight, and it frees the
      -- slots of a crashed process once traffic stops.
      redis.call('EXPIRE', KEYS[3 * i], parallel_ttl)
    end
  end
else
  grant = 0
end

local out = {refused == 0 and 1 or 0, refused, reason, grant}
for i = 1, n do
  local rpm, tpm = limits[i][1], limits[i][2]
  out[#out + 1] = rpm >= 0 and math.max(rpm - req[i], 0) or -1
  out[#out + 1] = tpm >= 0 and math.max(tpm - tok[i], 0) or -1
end
return out
"#,
);

/// Decrements in-flight counters by `ARGV[1]`, deleting a counter at zero or below (below: its safety TTL
/// expired while requests were in flight, so DECRBY recreated it negative).
///
/// KEYS: counters. ARGV: `[1]` how many slots. Returns the number of keys.
pub(crate) static RELEASE: LuaScript = LuaScript::new(
    r#"
for i = 1, #KEYS do
  if redis.call('DECRBY', KEYS[i], ARGV[1]) <= 0 then redis.call('DEL', KEYS[i]) end
end
return #KEYS
"#,
);

/// Adds to counters, with a TTL.
///
/// KEYS: counters. ARGV: `[1]` amount (integer), `[2]` TTL (ms), `[3]` `1` = refresh the TTL on every
/// call (safety TTLs), `0` = set it only on a key without one (fixed windows must not slide).
/// Returns the new values.
pub(crate) static INCR_WITH_TTL: LuaScript = LuaScript::new(
    r#"
local out = {}
for i = 1, #KEYS do
  out[i] = redis.call('INCRBY', KEYS[i], ARGV[1])
  if ARGV[3] == '1' or redis.call('PTTL', KEYS[i]) < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  end
end
return out
"#,
);
