"""The rate budget's atomic steps in Redis (Lua): take, settle, refund, count, pause."""

# A spend log entry is "<ms>:<random>:<points>" (a refund's points are negative, at its reservation's
# <ms>, so both leave the log together); the window is a minute plus a second of slack for
# the time between our clock (Redis) and the API's (a request arrives a little after its grant).
WINDOW_MS = 61_000

# KEYS[1] bucket hash, KEYS[2] pause key, KEYS[3] per-minute usage counter prefix, KEYS[4] spend log;
# ARGV[1] rate per ms, ARGV[2] capacity (a second of the budget or one known call's worth, or the batch), ARGV[3] points, ARGV[4] points per window, ARGV[5] window ms,
# ARGV[6] a unique tag, ARGV[7] '1' for a call that learns a cost (it waits only for the minute's log:
# sent at once after the previous answer, its fall holds little of others' spend; the bucket's debt
# it leaves paces the calls after it), ARGV[8] what a new bucket holds (one call's worth).
# Returns {0, the grant's ms} when the points were taken, else {the milliseconds to wait, now}.
TAKE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local pause_until = tonumber(redis.call('GET', KEYS[2]) or '0')
if pause_until > now then return {pause_until - now, now} end
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local points = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
local spent = 0
for i = 1, #entries, 2 do spent = spent + tonumber(string.match(entries[i], ':(%-?%d+)$')) end
if spent + points > budget then
  local freed = 0
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], ':(%-?%d+)$'))
    if spent - freed + points <= budget then return {math.max(1, tonumber(entries[i + 1]) + window - now + 1), now} end
  end
  return {1000, now}
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then tokens = tonumber(ARGV[8]) end
if ts == nil then ts = now end
tokens = math.min(capacity, tokens + (now - ts) * rate)
-- A call dearer than the bucket holds (an unlearned endpoint's reservation of the most a call may
-- cost) needs only a full bucket and leaves it in debt: the log above still caps every minute.
local need = math.min(points, capacity)
if ARGV[7] == '1' then need = -math.huge end
local result = 0
if tokens >= need then
  tokens = tokens - points
  local used = KEYS[3] .. ':' .. math.floor(now / 60000)
  redis.call('INCRBY', used, points)
  redis.call('EXPIRE', used, 180)
  redis.call('ZADD', KEYS[4], now, now .. ':' .. ARGV[6] .. ':' .. points)
  redis.call('PEXPIRE', KEYS[4], window + 1000)
else
  -- In debt, a refund may come at any moment: ask again once a full bucket's time has passed.
  result = math.ceil((need - math.max(tokens, 0)) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], 600000)
return {result, now}
"""

# Charge points already spent (a call that cost more than was reserved): into the log and the bucket.
# KEYS as above; ARGV[1] points, ARGV[2] window ms, ARGV[3] a unique tag.
SETTLE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local points = tonumber(ARGV[1])
local used = KEYS[3] .. ':' .. math.floor(now / 60000)
redis.call('INCRBY', used, points)
redis.call('EXPIRE', used, 180)
redis.call('ZADD', KEYS[4], now, now .. ':' .. ARGV[3] .. ':' .. points)
redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[2]) + 1000)
redis.call('HINCRBYFLOAT', KEYS[1], 'tokens', -points)
return 0
"""

# Give back points reserved and not spent (a call that cost less than reserved), so they can be spent
# again at once: a negative entry at the reservation's instant, the bucket and that minute's counter.
# KEYS as above; ARGV[1] points, ARGV[2] the reservation's ms, ARGV[3] window ms, ARGV[4] a unique tag,
# ARGV[5] the bucket's capacity (a refund repays its debt, never fills it beyond).
REFUND_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local points = tonumber(ARGV[1])
local stamp = tonumber(ARGV[2])
if stamp > now - tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[4], stamp, stamp .. ':' .. ARGV[4] .. ':-' .. points)
end
local used = KEYS[3] .. ':' .. math.floor(stamp / 60000)
if redis.call('EXISTS', used) == 1 then redis.call('DECRBY', used, points) end
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or 'nil')
if tokens ~= nil then
  local back = math.min(tonumber(ARGV[5]), tokens + points)
  if back > tokens then redis.call('HSET', KEYS[1], 'tokens', tostring(back)) end
end
return 0
"""

# Points in the log within the last ARGV[1] ms.
SPENT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]), '+inf')
local spent = 0
for i = 1, #entries do spent = spent + tonumber(string.match(entries[i], ':(%-?%d+)$')) end
return spent
"""

# Extend the shared pause to ARGV[1] ms from now unless it already lasts longer.
PAUSE_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local target = now + tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if target > current then redis.call('SET', KEYS[1], tostring(target), 'PX', tonumber(ARGV[1]) + 1000) end
return target - now
"""
