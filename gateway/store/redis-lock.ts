/**
 * The lockout steps of gateway/store/lock-model.ts as Redis Lua scripts, on one hash per email (one
 * key, so one Cluster slot) with the same fields. Time is the server's (`TIME`), so every gateway
 * instance agrees on windows and lease expiry whatever its own clock says. Redis 7 replicates a
 * script's effects, not the script, so reading `TIME` before writing is safe on replicas.
 */

// Shared prelude: loads the hash, deletes void counters and expired leases, and defines the
// pressure function (settled failures and leases against a workspace, or against all of them).
const PRELUDE = `
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HGETALL', key)
local windowEnd = 0
for i = 1, #h, 2 do if h[i] == 'w' then windowEnd = tonumber(h[i + 1]) end end
local open = windowEnd > now
if not open then windowEnd = 0 end
local star, dom, ndom, credit, leaseDom, leaseStar, dead, leases = 0, {}, 0, {}, {}, 0, {}, {}
for i = 1, #h, 2 do
  local f, v = h[i], h[i + 1]
  local p = string.sub(f, 1, 2)
  if f == 'w' then
    if not open then dead[#dead + 1] = f end
  elseif f == '*' then
    if open then star = tonumber(v) else dead[#dead + 1] = f end
  elseif p == 'd:' then
    if open then dom[string.sub(f, 3)] = tonumber(v); ndom = ndom + 1 else dead[#dead + 1] = f end
  elseif p == 'c:' then
    if open then credit[string.sub(f, 3)] = tonumber(v) else dead[#dead + 1] = f end
  elseif p == 'l:' then
    local a = string.find(v, '|', 1, true)
    local b = string.find(v, '|', a + 1, true)
    local exp, kind, ws = tonumber(string.sub(v, 1, a - 1)), string.sub(v, a + 1, b - 1), string.sub(v, b + 1)
    if exp <= now then
      dead[#dead + 1] = f
    else
      leases[f] = { kind, ws, exp }
      if kind == 'n' then
        leaseDom[ws] = (leaseDom[ws] or 0) + 1
      elseif kind == 'r' then
        for w in string.gmatch(ws, '[^,]+') do leaseDom[w] = (leaseDom[w] or 0) + 1 end
      else
        leaseStar = leaseStar + 1
      end
    end
  end
end
for i = 1, #dead, 500 do redis.call('HDEL', key, unpack(dead, i, math.min(i + 499, #dead))) end

local function effective(ws)
  return (dom[ws] or 0) + star - (credit[ws] or 0)
end

local function pressure(named, ws)
  if named then return effective(ws), (leaseDom[ws] or 0) + leaseStar end
  local settled, total = star, star
  local function consider(w)
    local e = effective(w)
    if e > settled then settled = e end
    if e + (leaseDom[w] or 0) > total then total = e + (leaseDom[w] or 0) end
  end
  for w in pairs(dom) do consider(w) end
  for w in pairs(credit) do consider(w) end
  for w in pairs(leaseDom) do consider(w) end
  return settled, total - settled + leaseStar
end

local function keepUntil()
  local at = windowEnd
  for _, l in pairs(leases) do
    if l[3] > at then at = l[3] end
  end
  if at > now then redis.call('PEXPIREAT', key, at) end
end
`;

// ARGV: max, window ms, lease ms, lease id, workspace ('' = none), max workspaces.
// Returns {0 granted | 1 locked | 2 busy, retry-after seconds, settled count, restricted workspaces ('' = none)}.
export const BEGIN_SCRIPT = `${PRELUDE}
local max, windowMs, leaseMs, leaseId, ws, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local named = ws ~= ''
local settled, inflight = pressure(named, ws)
local retryAfter = 0
if windowEnd > now then retryAfter = math.max(1, math.ceil((windowEnd - now) / 1000)) end
local function lease(kind, of)
  redis.call('HSET', key, 'l:' .. leaseId, tostring(now + leaseMs) .. '|' .. kind .. '|' .. of)
  leases['l:' .. leaseId] = { kind, of, now + leaseMs }
  keepUntil()
end
if not named and settled >= max then
  local credited, roomy = {}, {}
  for w in pairs(credit) do
    if effective(w) < max then
      credited[#credited + 1] = w
      if effective(w) + (leaseDom[w] or 0) + leaseStar < max then roomy[#roomy + 1] = w end
    end
  end
  if #roomy > 0 then
    table.sort(roomy)
    local list = table.concat(roomy, ',')
    lease('r', list)
    return {0, retryAfter, settled, list}
  end
  if #credited > 0 then return {2, 0, settled, ''} end
end
if settled >= max then return {1, retryAfter, settled, ''} end
if settled + inflight >= max then return {2, 0, settled, ''} end
local kind = 'a'
if named then
  if dom[ws] ~= nil or ndom < cap then kind = 'n' else kind = 'f' end
end
lease(kind, ws)
return {0, 0, settled, ''}
`;

// ARGV: lease id, outcome ('failed' | 'authenticated' | 'released'), workspace that authenticated, max, window ms.
// Returns {1 settled | 0 lease already gone, count, 1 when this failure locked}.
export const SETTLE_SCRIPT = `${PRELUDE}
local leaseId, outcome, authWs, max, windowMs = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local lease = leases['l:' .. leaseId]
if lease == nil then return {0, 0, 0} end
redis.call('HDEL', key, 'l:' .. leaseId)
leases['l:' .. leaseId] = nil
if outcome == 'released' then
  keepUntil()
  return {1, 0, 0}
end
local kind, ws = lease[1], lease[2]
local function window()
  if windowEnd == 0 then windowEnd = now + windowMs end
  redis.call('HSET', key, 'w', tostring(windowEnd))
end
if kind == 'a' or kind == 'r' then
  -- Without a domain, even a success was a wrong password for every other account.
  window()
  star = redis.call('HINCRBY', key, '*', 1)
end
if outcome == 'authenticated' then
  if dom[authWs] ~= nil then redis.call('HDEL', key, 'd:' .. authWs); dom[authWs] = nil; ndom = ndom - 1 end
  if star > 0 then redis.call('HSET', key, 'c:' .. authWs, tostring(star)); credit[authWs] = star end
elseif kind == 'n' then
  window()
  dom[ws] = redis.call('HINCRBY', key, 'd:' .. ws, 1)
  ndom = 0
  for _ in pairs(dom) do ndom = ndom + 1 end
elseif kind == 'f' then
  window()
  star = redis.call('HINCRBY', key, '*', 1)
end
if star == 0 and ndom == 0 then
  redis.call('HDEL', key, 'w')
  windowEnd = 0
  keepUntil()
  return {1, 0, 0}
end
local count = pressure(kind == 'n' or kind == 'f', ws)
if count >= max then windowEnd = now + windowMs; redis.call('HSET', key, 'w', tostring(windowEnd)) end
keepUntil()
local locked = 0
if outcome == 'failed' and count == max then locked = 1 end
return {1, count, locked}
`;

// ARGV: workspace. Clears its count, the email-wide one and the credits on it (cli user unlock).
export const UNLOCK_SCRIPT = `${PRELUDE}
local ws = ARGV[1]
redis.call('HDEL', key, 'd:' .. ws, '*')
for w in pairs(credit) do redis.call('HDEL', key, 'c:' .. w) end
dom[ws] = nil
local left = 0
for _ in pairs(dom) do left = left + 1 end
if left == 0 then redis.call('HDEL', key, 'w'); windowEnd = 0 end
keepUntil()
return 1
`;
