"""The Lua scripts behind the presence store. Each runs atomically in Redis, so an instance's
sets and the cluster-wide counts never disagree, whichever instances write or sweep at once.

Every script first sweeps: instances whose heartbeat (Redis's own clock, so instance clocks
do not matter) is older than the dead-after bound lose their sets and their share of the
counts. Keys are built from the prefix inside the scripts: a single Redis node, not a cluster.
"""

from __future__ import annotations

_PRELUDE = r"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(member)
  local at = string.find(member, '\n', 1, true)
  return string.sub(member, 1, at - 1), string.sub(member, at + 1)
end

local function drop_user(p, u, gone)
  if redis.call('HINCRBY', p .. ':online', u, -1) <= 0 then
    redis.call('HDEL', p .. ':online', u)
    if gone then gone[#gone + 1] = u end
  end
end

local function drop_membership(p, m, left)
  local c, u = split(m)
  if redis.call('HINCRBY', p .. ':c:' .. c, u, -1) <= 0 then
    redis.call('HDEL', p .. ':c:' .. c, u)
    left[#left + 1] = m
  end
end

local function remove_instance(p, id, left)
  local users = p .. ':i:' .. id .. ':users'
  for _, u in ipairs(redis.call('SMEMBERS', users)) do drop_user(p, u, nil) end
  redis.call('DEL', users)
  local channels = p .. ':i:' .. id .. ':channels'
  for _, m in ipairs(redis.call('SMEMBERS', channels)) do drop_membership(p, m, left) end
  redis.call('DEL', channels)
  redis.call('ZREM', p .. ':instances', id)
end

local function sweep(p, now, dead_after_ms)
  local left = {}
  local dead = redis.call('ZRANGEBYSCORE', p .. ':instances', '-inf', now - dead_after_ms)
  for _, id in ipairs(dead) do remove_instance(p, id, left) end
  return left
end
"""

SYNC = (
    _PRELUDE
    + r"""
-- ARGV: prefix, instance, dead_after_ms, mode ('delta' | 'full'), key ttl (s),
--       #user adds, #user removes, #membership adds, #membership removes, then the four lists.
-- Every key this instance relies on gets the ttl again: with no instance left to sweep (all
-- killed), the prefix's keys vanish by themselves.
-- A delta from an instance that is not registered (the store lost it, or it was swept as
-- dead) is refused with status 0: the caller sends its full state instead.
-- Returns {status, online count, joined memberships, left memberships}.
local p, id, mode = ARGV[1], ARGV[2], ARGV[4]
local now = now_ms()
local left = sweep(p, now, tonumber(ARGV[3]))
local joined = {}
local new = redis.call('ZADD', p .. ':instances', now, id)
if new == 1 and mode == 'delta' then
  redis.call('ZREM', p .. ':instances', id)
  return {0, redis.call('HLEN', p .. ':online'), joined, left}
end
local users = p .. ':i:' .. id .. ':users'
local channels = p .. ':i:' .. id .. ':channels'
local ttl = tonumber(ARGV[5])
local n = {tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])}
local at = 10
local lists = {}
for k = 1, 4 do
  local list = {}
  for i = 1, n[k] do list[i] = ARGV[at]; at = at + 1 end
  lists[k] = list
end
local user_adds, user_removes, member_adds, member_removes = lists[1], lists[2], lists[3], lists[4]
if mode == 'full' then
  local wanted = {}
  for _, u in ipairs(user_adds) do wanted[u] = true end
  for _, u in ipairs(redis.call('SMEMBERS', users)) do
    if not wanted[u] then user_removes[#user_removes + 1] = u end
  end
  wanted = {}
  for _, m in ipairs(member_adds) do wanted[m] = true end
  for _, m in ipairs(redis.call('SMEMBERS', channels)) do
    if not wanted[m] then member_removes[#member_removes + 1] = m end
  end
end
for _, u in ipairs(user_adds) do
  if redis.call('SADD', users, u) == 1 then redis.call('HINCRBY', p .. ':online', u, 1) end
end
for _, u in ipairs(user_removes) do
  if redis.call('SREM', users, u) == 1 then drop_user(p, u, nil) end
end
for _, m in ipairs(member_adds) do
  if redis.call('SADD', channels, m) == 1 then
    local c, u = split(m)
    if redis.call('HINCRBY', p .. ':c:' .. c, u, 1) == 1 then joined[#joined + 1] = m end
  end
end
for _, m in ipairs(member_removes) do
  if redis.call('SREM', channels, m) == 1 then drop_membership(p, m, left) end
end
for _, key in ipairs({p .. ':instances', p .. ':online', users, channels}) do
  redis.call('EXPIRE', key, ttl)
end
local renewed = {}
for _, m in ipairs(redis.call('SMEMBERS', channels)) do
  local c = split(m)
  if not renewed[c] then
    renewed[c] = true
    redis.call('EXPIRE', p .. ':c:' .. c, ttl)
  end
end
return {1, redis.call('HLEN', p .. ':online'), joined, left}
"""
)

REMOVE_INSTANCE = (
    _PRELUDE
    + r"""
-- ARGV: prefix, instance. An instance leaving on purpose. Returns the left memberships.
local left = {}
remove_instance(ARGV[1], ARGV[2], left)
return left
"""
)

USERS_ONLINE = (
    _PRELUDE
    + r"""
-- ARGV: prefix, dead_after_ms, user ids... Returns {left memberships, counts (or false)}.
local p = ARGV[1]
local left = sweep(p, now_ms(), tonumber(ARGV[2]))
local ids = {}
for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
if #ids == 0 then return {left, {}} end
return {left, redis.call('HMGET', p .. ':online', unpack(ids))}
"""
)

ONLINE_USERS = (
    _PRELUDE
    + r"""
-- ARGV: prefix, dead_after_ms. Returns {left memberships, every online user}.
local p = ARGV[1]
local left = sweep(p, now_ms(), tonumber(ARGV[2]))
return {left, redis.call('HKEYS', p .. ':online')}
"""
)

CHANNEL_MEMBERS = (
    _PRELUDE
    + r"""
-- ARGV: prefix, dead_after_ms, channel. Returns {left memberships, the channel's users}.
local p = ARGV[1]
local left = sweep(p, now_ms(), tonumber(ARGV[2]))
return {left, redis.call('HKEYS', p .. ':c:' .. ARGV[3])}
"""
)
