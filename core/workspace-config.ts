// A workspace's own config, as the spec watcher and the CLI see it: the layers the workspace holds
// (.loop/config and the defaults), without any process's environment or a request's flags. One
// function, so the daemon and loopctl never disagree about where a workspace keeps its specs.
import { resolveConfig, type LoopConfig } from './config.js';

/** Throws ConfigError (with the file and key) when the workspace's config cannot be read. */
export function workspaceConfig(root: string): LoopConfig {
  return resolveConfig({ workspaceRoot: root, env: {} }).config;
}
