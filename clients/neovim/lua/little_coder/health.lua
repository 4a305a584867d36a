--- `:checkhealth little_coder`: is the language server there, on a recent enough Python, are the
--- settings valid, does the model server answer and list the configured model. The last three are
--- asked of the server's own Python (python/little_coder_probe.py), so the verdicts are the server's.
local M = {}

local PROBE_TIMEOUT_MS = 30000

local health = vim.health

--- The Python that runs the server: the command itself, or the interpreter of its script's shebang.
--- @param cmd string[]
--- @return string? python
--- @return string? why not found
local function server_python(cmd)
  local program = vim.fn.exepath(cmd[1])
  if program == "" then
    return nil, ("`%s` is not an executable on PATH"):format(cmd[1])
  end
  if vim.fs.basename(program):match("^python") then
    return program
  end
  local handle = io.open(program, "rb")
  local first = handle and handle:read("*l") or ""
  if handle then
    handle:close()
  end
  local interpreter = first:match("^#!%s*(%S+)")
  if interpreter and vim.fs.basename(interpreter) == "env" then
    interpreter = first:match("^#!%s*%S+%s+(%S+)")
    interpreter = interpreter and vim.fn.exepath(interpreter)
  end
  if interpreter and interpreter ~= "" and vim.fs.basename(interpreter):match("^python") then
    return interpreter
  end
  return nil, ("cannot tell which Python `%s` runs (no python shebang)"):format(program)
end

local function probe_script()
  local here = debug.getinfo(1, "S").source:sub(2)
  return vim.fs.joinpath(vim.fs.dirname(vim.fs.dirname(vim.fs.dirname(here))), "python", "little_coder_probe.py")
end

--- @return table? report
--- @return string? error
local function run_probe(python, config, root)
  local input = vim.json.encode({
    root = root,
    settings = next(config.settings) and config.settings or vim.empty_dict(),
  })
  local env = config.cmd_env and vim.tbl_extend("force", vim.fn.environ(), config.cmd_env) or nil
  local ok, process = pcall(vim.system, { python, probe_script() }, { stdin = input, text = true, env = env })
  if not ok then
    return nil, tostring(process)
  end
  local done = process:wait(PROBE_TIMEOUT_MS)
  if done.code ~= 0 then
    local why = done.signal ~= 0 and ("killed after %d s"):format(PROBE_TIMEOUT_MS / 1000)
      or vim.trim(done.stderr or "")
    return nil, ("the probe failed (exit %d): %s"):format(done.code, why)
  end
  local decoded, report = pcall(vim.json.decode, done.stdout or "", { luanil = { object = true, array = true } })
  if not decoded then
    return nil, "the probe printed no JSON: " .. (done.stdout or "")
  end
  return report
end

function M.check()
  health.start("little-coder: Neovim")
  if vim.fn.has("nvim-0.11") == 1 then
    health.ok(("Neovim %s: vim.lsp.config / vim.lsp.enable"):format(tostring(vim.version())))
  elseif vim.fn.has("nvim-0.10") == 1 then
    health.warn(("Neovim %s: the plugin falls back to vim.lsp.start"):format(tostring(vim.version())),
      { "Neovim 0.11 or later is recommended" })
  else
    health.error("Neovim 0.10 or later is required")
    return
  end

  local plugin = require("little_coder")
  local app = plugin.instance()
  local config
  if app then
    config = app.config
    health.ok("setup() was called")
  else
    config = assert(require("little_coder.config").resolve({}))
    health.warn("setup() was not called: checking the defaults", { "call require('little_coder').setup({...})" })
  end

  health.start("little-coder: language server")
  local program = vim.fn.exepath(config.cmd[1])
  if program == "" then
    health.error(("server not found: `%s` is not an executable on PATH"):format(config.cmd[1]), {
      "install the little-coder-lsp Python package (pip install little-coder-lsp) so that `little-coder` is on PATH",
      "or set cmd in setup(), e.g. { '/path/to/venv/bin/python', '-m', 'lc_lsp' }",
    })
    return
  end
  health.ok(("server found: %s"):format(table.concat(vim.list_extend({ program }, vim.list_slice(config.cmd, 2)), " ")))
  local python, why = server_python(config.cmd)
  if not python then
    health.warn(why .. ": Python, settings and model server not checked")
    return
  end
  -- :checkhealth runs in its own buffer, so the project is the one of the working directory.
  local root = vim.fs.root(vim.fn.getcwd(), config.root_markers) or vim.fn.getcwd()
  local report, err = run_probe(python, config, root)
  if not report then
    health.error(("could not ask %s: %s"):format(python, err))
    return
  end
  if report.python_ok then
    health.ok(("Python %s (%s)"):format(report.python, report.executable))
  else
    health.error(("Python %s is too old: the server needs 3.11 or later"):format(report.python))
    return
  end
  if report.package_error then
    health.error("the server's Python cannot import little-coder: " .. report.package_error,
      { "pip install little-coder-lsp into " .. report.executable })
    return
  end
  health.ok("little-coder-lsp " .. report.package)

  health.start("little-coder: settings")
  if report.settings_error then
    health.error(report.settings_error)
    return
  end
  local s = report.settings
  health.ok(("settings valid (root %s): backend %s, baseUrl %s, model %s, review %s, maxTurns %d"):format(
    root, s.backend, s.base_url or "(auto)", s.model or "(the server's first)", s.review, s.max_turns))

  health.start("little-coder: model server")
  local server = report.model_server
  if server.error then
    health.error("model server not reachable: " .. server.error, {
      "start Ollama (ollama serve) or llama.cpp's llama-server",
      "or point settings.baseUrl at your model server",
    })
  else
    local models = server.models or {}
    local listed = #models > 0 and table.concat(models, ", ") or "none"
    health.ok(("model server reachable: %s at %s lists %d model(s): %s"):format(server.backend, server.base_url,
      #models, listed))
    if vim.tbl_contains(models, server.model) then
      health.ok("model " .. server.model)
    else
      health.warn(("model %s is not among the models the server lists"):format(server.model),
        { "set settings.model to one of them, or download it (e.g. ollama pull " .. server.model .. ")" })
    end
  end

  if app then
    local clients = vim.lsp.get_clients({ name = app.NAME })
    if #clients == 0 then
      health.info("no little-coder client is running (open a file of a served filetype)")
    end
    for _, client in ipairs(clients) do
      health.info(("client %d: %s, root %s, position encoding %s"):format(client.id,
        client.initialized and "initialized" or "starting", client.root_dir or "(none)", client.offset_encoding))
    end
  end
end

return M
