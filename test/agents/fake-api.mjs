// A scripted local stand-in for the Anthropic Messages API (Claude Code) and the OpenAI Responses
// API (Codex), so the real agent CLIs can be driven through whole loopd runs with no network and
// no key. Each scenario decides what every request gets; the agent's tool calls really run.
//
//   success     first turn: a shell tool call that marks the plan done and commits; then the token
//   auth        401 on every request
//   rate_limit  429 on every request (with retry-after and a reset header)
//   overloaded  529 (Anthropic) / 503 (OpenAI) on every request
//   slow_tool   a shell tool call that starts background sleepers and sleeps (timeout test)
//   wait_tool   a shell tool call that waits for $AGENT_TEST_GATE to exist (restart test; not LOOPD_*, which agents never see)
import { createServer } from 'node:http';

const json = (res, status, body, headers = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};

function sse(res, events) {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [event, data] of events) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  res.end();
}

const SUCCESS_SCRIPT =
  'sed -i "s/- \\[ \\]/- [x]/" "$LOOP_PLAN_PATH" && echo built > built.txt && git add -A && git commit -qm "do the task" && echo committed';
const SLOW_SCRIPT = '(sleep 300 &) ; (sleep 301 &) ; sleep 302';
const WAIT_SCRIPT = 'while [ ! -e "$AGENT_TEST_GATE" ]; do sleep 0.1; done; echo gate open; ' + SUCCESS_SCRIPT;

function scriptFor(scenario) {
  if (scenario === 'slow_tool') return SLOW_SCRIPT;
  if (scenario === 'wait_tool') return WAIT_SCRIPT;
  return SUCCESS_SCRIPT;
}

// ---- Anthropic -------------------------------------------------------------------------------

function anthropicError(res, scenario) {
  if (scenario === 'auth') {
    json(res, 401, { type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }, { 'request-id': 'req_fake' });
    return true;
  }
  if (scenario === 'rate_limit') {
    const reset = Math.floor(Date.now() / 1000) + 3600;
    json(res, 429, { type: 'error', error: { type: 'rate_limit_error', message: 'Number of request tokens has exceeded your per-minute rate limit' } }, {
      'retry-after': '30',
      'anthropic-ratelimit-unified-status': 'rejected',
      'anthropic-ratelimit-unified-reset': String(reset),
    });
    return true;
  }
  if (scenario === 'overloaded') {
    json(res, 529, { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
    return true;
  }
  return false;
}

function lastUserHasToolResult(messages) {
  const last = messages?.[messages.length - 1];
  return Array.isArray(last?.content) && last.content.some((b) => b?.type === 'tool_result');
}

function anthropicStream(res, model, blocks, stopReason) {
  const events = [
    ['message_start', { type: 'message_start', message: { id: `msg_${Date.now()}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1200, cache_creation_input_tokens: 0, cache_read_input_tokens: 300, output_tokens: 1 } } }],
  ];
  blocks.forEach((b, index) => {
    if (b.type === 'text') {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: b.text } }]);
    } else {
      events.push(['content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: b.id, name: b.name, input: {} } }]);
      events.push(['content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: JSON.stringify(b.input) } }]);
    }
    events.push(['content_block_stop', { type: 'content_block_stop', index }]);
  });
  events.push(['message_delta', { type: 'message_delta', delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: 80 } }]);
  events.push(['message_stop', { type: 'message_stop' }]);
  sse(res, events);
}

function anthropic(res, body, scenario) {
  if (anthropicError(res, scenario)) return;
  const model = body.model ?? 'claude-sonnet-4-5';
  const hasTools = Array.isArray(body.tools) && body.tools.some((t) => t.name === 'Bash');
  let blocks;
  let stop = 'end_turn';
  if (!hasTools) blocks = [{ type: 'text', text: 'loopd' }];
  else if (lastUserHasToolResult(body.messages)) blocks = [{ type: 'text', text: 'The task is done and committed.\n<promise>COMPLETE</promise>' }];
  else {
    blocks = [
      { type: 'text', text: 'I will do the task now.' },
      { type: 'tool_use', id: `toolu_${Date.now()}`, name: 'Bash', input: { command: scriptFor(scenario), description: 'Do the task' } },
    ];
    stop = 'tool_use';
  }
  if (body.stream) return anthropicStream(res, model, blocks, stop);
  json(res, 200, { id: 'msg_plain', type: 'message', role: 'assistant', model, content: blocks.filter((b) => b.type === 'text'), stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 10, output_tokens: 2 } });
}

// ---- OpenAI Responses (Codex) ------------------------------------------------------------------

function openaiError(res, scenario) {
  if (scenario === 'auth') {
    json(res, 401, { error: { message: 'Incorrect API key provided: sk-fake. You can find your API key at https://platform.openai.com/account/api-keys.', type: 'invalid_request_error', code: 'invalid_api_key' } });
    return true;
  }
  if (scenario === 'rate_limit') {
    json(res, 429, { error: { message: 'Rate limit reached for requests', type: 'requests', code: 'rate_limit_exceeded' } }, { 'retry-after': '30' });
    return true;
  }
  if (scenario === 'overloaded') {
    json(res, 503, { error: { message: 'The server is overloaded. Please try again later.', type: 'server_error', code: 'server_is_overloaded' } });
    return true;
  }
  return false;
}

function shellCall(tools, script) {
  const names = new Set((tools ?? []).map((t) => t.name ?? t.function?.name));
  if (names.has('shell_command')) return { name: 'shell_command', arguments: JSON.stringify({ command: script }) };
  if (names.has('exec_command')) return { name: 'exec_command', arguments: JSON.stringify({ cmd: script }) };
  return { name: 'shell', arguments: JSON.stringify({ command: ['bash', '-lc', script] }) };
}

function openai(res, body, scenario) {
  if (openaiError(res, scenario)) return;
  const input = Array.isArray(body.input) ? body.input : [];
  const afterTool = input.some((i) => i?.type === 'function_call_output' || i?.type === 'custom_tool_call_output');
  const id = `resp_${Date.now()}`;
  const items = afterTool
    ? [{ type: 'message', role: 'assistant', id: `msg_${Date.now()}`, content: [{ type: 'output_text', text: 'The task is done and committed.\n<promise>COMPLETE</promise>', annotations: [] }] }]
    : [
        { type: 'message', role: 'assistant', id: `msg_${Date.now()}`, content: [{ type: 'output_text', text: 'I will do the task now.', annotations: [] }] },
        { type: 'function_call', id: `fc_${Date.now()}`, call_id: `call_${Date.now()}`, ...shellCall(body.tools, scriptFor(scenario)) },
      ];
  const events = [['response.created', { type: 'response.created', response: { id } }]];
  for (const item of items) {
    events.push(['response.output_item.added', { type: 'response.output_item.added', item }]);
    events.push(['response.output_item.done', { type: 'response.output_item.done', item }]);
  }
  events.push([
    'response.completed',
    { type: 'response.completed', response: { id, usage: { input_tokens: 2000, input_tokens_details: { cached_tokens: 500 }, output_tokens: 150, output_tokens_details: { reasoning_tokens: 20 }, total_tokens: 2150 } } },
  ]);
  sse(res, events);
}

/** Starts the server; `scenario` can be changed between runs through the returned handle. */
export function startFakeApi({ scenario = 'success', port = 0, log = null } = {}) {
  const state = { scenario, requests: [] };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      let body = {};
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        /* not JSON */
      }
      state.requests.push({ method: req.method, url: req.url, scenario: state.scenario });
      log?.(`${req.method} ${req.url} -> ${state.scenario}`);
      const path = (req.url ?? '').split('?')[0];
      if (req.method === 'POST' && path.endsWith('/messages')) return anthropic(res, body, state.scenario);
      if (req.method === 'POST' && path.endsWith('/responses')) return openai(res, body, state.scenario);
      if (path.endsWith('/models')) return json(res, 200, { object: 'list', data: [], models: [] });
      json(res, 404, { error: { message: `fake api: no route for ${req.method} ${path}` } });
    });
  });
  return new Promise((resolve) => {
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      resolve({
        url: `http://127.0.0.1:${addr.port}`,
        port: addr.port,
        state,
        setScenario: (s) => (state.scenario = s),
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const api = await startFakeApi({ scenario: process.argv[2] ?? 'success', port: Number(process.argv[3] ?? 0), log: (m) => console.error(m) });
  console.log(api.url);
}
