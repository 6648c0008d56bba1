-- quire.stdlib: small helpers for pipelines, documented in
-- docs/ci-fennel.md. Written in Lua so that loading it costs no
-- compile step.
local M = {}

-- Raises an error when argument `n` of helper `fn_name` is not of type
-- `expected`. The error has no position: the loader wraps each helper
-- in a function that prefixes the pipeline line of the call, which a
-- level here could not name when the helper was tail-called.
local function check(fn_name, n, value, expected)
  if type(value) ~= expected then
    error(string.format("%s: argument %d must be a %s, got %s",
      fn_name, n, expected, type(value)), 0)
  end
end

-- Removes leading and trailing whitespace.
M.trim = function(s)
  check("trim", 1, s, "string")
  return (string.gsub(s, "^%s*(.-)%s*$", "%1"))
end

-- Splits s at each occurrence of the plain string sep (default ",").
M.split = function(s, sep)
  check("split", 1, s, "string")
  sep = sep or ","
  check("split", 2, sep, "string")
  if sep == "" then error("split: the separator must not be empty", 0) end
  local parts, start = {}, 1
  while true do
    local i, j = string.find(s, sep, start, true)
    if not i then
      table.insert(parts, string.sub(s, start))
      return parts
    end
    table.insert(parts, string.sub(s, start, i - 1))
    start = j + 1
  end
end

-- Splits s into lines, without their line endings.
M.lines = function(s)
  check("lines", 1, s, "string")
  local lines = {}
  for line in string.gmatch(s, "([^\n]*)\n?") do
    table.insert(lines, (string.gsub(line, "\r$", "")))
  end
  if lines[#lines] == "" then table.remove(lines) end
  return lines
end

M["starts-with?"] = function(s, prefix)
  check("starts-with?", 1, s, "string")
  check("starts-with?", 2, prefix, "string")
  return string.sub(s, 1, #prefix) == prefix
end

M["ends-with?"] = function(s, suffix)
  check("ends-with?", 1, s, "string")
  check("ends-with?", 2, suffix, "string")
  return suffix == "" or string.sub(s, -#suffix) == suffix
end

-- The keys of t, sorted when they are all strings or all numbers.
M.keys = function(t)
  check("keys", 1, t, "table")
  local keys = {}
  for k in pairs(t) do table.insert(keys, k) end
  pcall(table.sort, keys)
  return keys
end

-- A new table with the keys of every argument; later tables win.
M.merge = function(...)
  local out = {}
  for i = 1, select("#", ...) do
    local t = select(i, ...)
    if t ~= nil then
      check("merge", i, t, "table")
      for k, v in pairs(t) do out[k] = v end
    end
  end
  return out
end

-- True when the sequence t contains x.
M["contains?"] = function(t, x)
  check("contains?", 1, t, "table")
  for _, v in ipairs(t) do
    if v == x then return true end
  end
  return false
end

-- Quotes s for a POSIX shell, so it can be put in a command string.
M["shell-quote"] = function(s)
  s = tostring(s)
  if s ~= "" and not string.find(s, "[^%w%-_./=:,+@%%]") then return s end
  return "'" .. string.gsub(s, "'", "'\\''") .. "'"
end

return M
