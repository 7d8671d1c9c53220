// The agent adapters' public face, kept for the modules that read agent output by kind name: each
// kind's command line, parser and error words live in its own record under kinds/.
export { AgentConfigError, shellQuote, type AgentUsage, type ParsedAgentOutput } from './output.js';
export { buildAgentCommand, parseAgentOutput, type AgentKind } from './kinds/index.js';
export type { AgentCommandInput as AgentInvocationInput } from './kinds/types.js';
