//! Budget scripts: live spend plus outstanding reservations per entity, in USD (floats as strings).

use super::LuaScript;

/// Reserves between `min` and `want` for every entity (the same amount everywhere), or refuses and
/// changes nothing. The amount is `want`, capped at 1/16 of the smallest room left (so one process
/// does not hold the last of a budget others also draw on), but never below `min`; an entity
/// without room for `min` refuses.
///
/// KEYS, 2 per entity i: `[2i-1]` live spend, `[2i]` reserved.
/// ARGV: `[1]` min, `[2]` want, `[3]` spend TTL (s), `[4]` reserved TTL (s), then 2 per entity from
/// `[5]`: max budget (`''` = none), spend according to the database.
/// Returns `{'1', amount}` when granted, `{'0', refusing entity (1-based), its live spend}` when
/// refused. Floats travel as strings: a Lua number returned to Redis is truncated to an integer.
pub(crate) static RESERVE: LuaScript = LuaScript::new(
    r#"
local n = #KEYS / 2
local min = tonumber(ARGV[1])
local amount = tonumber(ARGV[2])
for i = 1, n do
  local max = tonumber(ARGV[2 * i + 3])
  if max then
    -- An entity seen for the first time starts from the database's figure.
    local spend = tonumber(redis.call('GET', KEYS[2 * i - 1]) or ARGV[2 * i + 4])
    local reserved = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    local live = spend + math.max(reserved, 0)
    -- A hair of tolerance so that float noise (0.1 + 0.2) does not refuse an exact fit.
    if live + min > max + 1e-9 then
      return {'0', tostring(i), tostring(live)}
    end
    amount = math.min(amount, math.max(min, (max - live) / 16))
  end
end
for i = 1, n do
  redis.call('SET', KEYS[2 * i - 1], ARGV[2 * i + 4], 'NX')
  redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[3])
  redis.call('INCRBYFLOAT', KEYS[2 * i], tostring(amount))
  redis.call('EXPIRE', KEYS[2 * i], ARGV[4])
end
return {'1', tostring(amount)}
"#,
);

/// Ends a reservation: reserved -= estimate, spend += actual.
///
/// KEYS, 2 per entity: live spend, reserved. ARGV: `[1]` minus the estimate, `[2]` actual cost,
/// `[3]` spend TTL (s), `[4]` reserved TTL (s).
pub(crate) static SETTLE: LuaScript = LuaScript::new(
    r#"
for i = 1, #KEYS / 2 do
  local reserved = tonumber(redis.call('INCRBYFLOAT', KEYS[2 * i], ARGV[1]))
  -- At (or, after a TTL expiry, below) zero: nothing is outstanding; drop the float residue.
  if reserved <= 1e-9 then
    redis.call('DEL', KEYS[2 * i])
  else
    redis.call('EXPIRE', KEYS[2 * i], ARGV[4])
  end
  -- A spend key that expired (or was never seeded) is not recreated from this call alone: it would
  -- hold only this cost. The next reservation seeds it from the database, which has this cost too.
  if redis.call('EXISTS', KEYS[2 * i - 1]) == 1 then
    redis.call('INCRBYFLOAT', KEYS[2 * i - 1], ARGV[2])
    redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[3])
  end
end
return #KEYS / 2
"#,
);

/// Sets live spend to 0 after a budget reset (reservations stay: those requests are still running).
///
/// KEYS: spend keys. ARGV: `[1]` spend TTL (s).
pub(crate) static RESET_SPEND: LuaScript = LuaScript::new(
    r#"
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], '0', 'EX', ARGV[1])
end
return #KEYS
"#,
);
