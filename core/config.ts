// Loop configuration: `.loop/config` files (the bash `loop` tool's format), layered with
// LOOP_CONFIG, --config FILE and CLI flags into one typed, validated LoopConfig.
// The parts live in core/config/, one job each; this module is their one import path.
export { ARTIFACT_MODES, CONFIG_KEYS, isConfigKey, LEGACY_KEYS, WORKTREE_PROVIDERS } from './config/keys.js';
export type { ArtifactMode, ConfigKey, ConfigKeySpec, LoopConfig, WorktreeProvider } from './config/keys.js';
export { ConfigError, parseBool, splitList } from './config/values.js';
export { editDistance, parseConfigText, suggestKey } from './config/parse.js';
export * from './config/resolve.js';
export * from './config/render.js';
export { DEFAULT_LEASE_TTL_SEC, parseLeaseTtlSec } from './config/host.js';
