-- Shared by the headless Neovim tests: results on stdout (print goes to stderr with --headless),
-- failures end the process with a non-zero code, which the pytest driver reports with our output.
local H = {}

local started = vim.uv.hrtime()

function H.out(text)
  io.stdout:write(text .. "\n")
  io.stdout:flush()
end

function H.elapsed()
  return string.format("%.0fms", (vim.uv.hrtime() - started) / 1e6)
end

function H.fail(message)
  io.stdout:write("FAIL: " .. message .. "\n")
  io.stdout:flush()
  os.exit(1)
end

function H.ok(condition, what)
  if not condition then
    H.fail(what)
  end
end

function H.eq(actual, expected, what)
  if not vim.deep_equal(actual, expected) then
    H.fail(("%s\n  expected: %s\n  actual:   %s"):format(what, vim.inspect(expected), vim.inspect(actual)))
  end
end

function H.contains(haystack, needle, what)
  if not haystack:find(needle, 1, true) then
    H.fail(("%s: %q not found in:\n%s"):format(what, needle, haystack))
  end
end

--- Wait without blocking the event loop; fail with `what` after `ms`.
function H.wait(ms, predicate, what)
  if not vim.wait(ms, predicate, 20) then
    H.fail("timed out after " .. ms .. "ms waiting for " .. what)
  end
end

function H.env(name)
  local value = os.getenv(name)
  if not value or value == "" then
    H.fail("environment variable " .. name .. " is not set (run this test through test_neovim.py)")
  end
  return value
end

--- Record every vim.notify call (the plugin reports through it) while still letting tests read them.
function H.capture_notifications()
  local seen = {}
  vim.notify = function(message, level, opts)
    seen[#seen + 1] = { message = message, level = level or vim.log.levels.INFO, opts = opts }
    local name = tostring(level)
    for key, value in pairs(vim.log.levels) do
      if value == (level or vim.log.levels.INFO) then
        name = key
      end
    end
    H.out(("notify[%s] %s"):format(name, message))
  end
  return seen
end

--- The first recorded notification whose message holds `needle` (and has `level`, when given).
function H.find_notification(seen, needle, level)
  for _, item in ipairs(seen) do
    if item.message:find(needle, 1, true) and (level == nil or item.level == level) then
      return item
    end
  end
  return nil
end

function H.read(path)
  local handle = assert(io.open(path, "rb"))
  local text = handle:read("*a")
  handle:close()
  return text
end

function H.write(path, text)
  vim.fn.mkdir(vim.fs.dirname(path), "p")
  local handle = assert(io.open(path, "wb"))
  handle:write(text)
  handle:close()
end

--- Type keys as a user would, mappings included, and let the resulting work run.
function H.keys(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "mx", false)
end

function H.done()
  H.out("OK " .. H.elapsed())
  os.exit(0)
end

return H
