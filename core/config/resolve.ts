// Precedence: defaults, the workspace's .loop/config, LOOP_CONFIG, --config FILE, then CLI flags,
// into one validated LoopConfig with where each value came from.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { CONFIG_KEYS, LEGACY_KEYS, SPEC_BY_NAME, type ConfigKey, type ConfigKeySpec, type LoopConfig } from './keys.js';
import { legacyWarning, parseConfigText, unknownKeyMessage } from './parse.js';
import { checkRaw, ConfigError, convert, expectation, splitList } from './values.js';

export type FlagValue = string | number | boolean | string[] | undefined;

export interface ConfigSources {
  workspaceRoot: string;
  /** Reads LOOP_CONFIG; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** --config FILE, absolute or relative to workspaceRoot. */
  configFile?: string;
  /** CLI flags keyed by config key; undefined entries are not set. */
  flags?: Record<string, FlagValue>;
}

export type ConfigSource = 'default' | 'workspace' | 'LOOP_CONFIG' | 'config_file' | 'flag';

/** The CLI spelling of a key, used in error messages about flags. */
export function flagName(key: string): string {
  return `--${key.replace(/_/g, '-')}`;
}

/** Normalises one flag to the raw text a config file would hold, or null for a wrong type. */
function flagToRaw(spec: ConfigKeySpec, value: Exclude<FlagValue, undefined>): string | null {
  if (Array.isArray(value)) return null;
  if (typeof value === 'boolean') return spec.type === 'bool' ? String(value) : null;
  if (typeof value === 'number') return spec.type === 'int' || spec.type === 'number' ? String(value) : null;
  return value;
}

function defaultsRecord(): Record<ConfigKey, string | number | boolean | string[]> {
  const out = {} as Record<ConfigKey, string | number | boolean | string[]>;
  for (const spec of CONFIG_KEYS) out[spec.name] = spec.type === 'list' ? [...spec.default] : spec.default;
  return out;
}

/** The configuration with nothing set. */
export function defaultConfig(): LoopConfig {
  return defaultsRecord() as unknown as LoopConfig;
}

function readNamedFile(path: string, what: string): string {
  if (!existsSync(path)) throw new ConfigError(`${what} ${path} does not exist`, { file: path });
  if (!statSync(path).isFile()) throw new ConfigError(`${what} ${path} is not a file`, { file: path });
  return readFileSync(path, 'utf8');
}

export function resolveConfig(src: ConfigSources): {
  config: LoopConfig;
  warnings: string[];
  sources: Record<string, ConfigSource>;
} {
  const root = resolve(src.workspaceRoot);
  const env = src.env ?? process.env;
  const out = defaultsRecord();
  const sources: Record<string, ConfigSource> = {};
  for (const spec of CONFIG_KEYS) sources[spec.name] = 'default';
  const warnings: string[] = [];

  const applyFile = (text: string, file: string, source: ConfigSource): void => {
    const parsed = parseConfigText(text, file);
    warnings.push(...parsed.warnings);
    for (const [key, raw] of Object.entries(parsed.values)) {
      const spec = SPEC_BY_NAME.get(key);
      if (!spec || raw === undefined) continue;
      out[spec.name] = convert(spec, raw);
      sources[key] = source;
    }
  };

  const workspaceFile = join(root, '.loop', 'config');
  if (existsSync(workspaceFile)) {
    if (!statSync(workspaceFile).isFile()) {
      throw new ConfigError(`${workspaceFile} is not a file`, { file: workspaceFile });
    }
    applyFile(readFileSync(workspaceFile, 'utf8'), workspaceFile, 'workspace');
  }

  const loopConfig = env.LOOP_CONFIG?.trim();
  if (loopConfig) {
    // Relative to the workspace, not the daemon's cwd, which has nothing to do with the user's shell.
    const path = isAbsolute(loopConfig) ? loopConfig : resolve(root, loopConfig);
    applyFile(readNamedFile(path, 'LOOP_CONFIG file'), path, 'LOOP_CONFIG');
  }

  if (src.configFile !== undefined && src.configFile.trim() !== '') {
    const path = isAbsolute(src.configFile) ? src.configFile : resolve(root, src.configFile);
    applyFile(readNamedFile(path, '--config file'), path, 'config_file');
  }

  for (const [key, value] of Object.entries(src.flags ?? {})) {
    if (value === undefined) continue;
    const flag = flagName(key);
    if (LEGACY_KEYS.includes(key)) {
      warnings.push(legacyWarning(flag, key));
      continue;
    }
    const spec = SPEC_BY_NAME.get(key);
    if (!spec) throw new ConfigError(`${flag}: ${unknownKeyMessage(key)}`, { key });
    if (spec.type === 'list') {
      if (typeof value !== 'string' && !Array.isArray(value)) {
        throw new ConfigError(`invalid value ${JSON.stringify(String(value))} for ${flag}: expected ${expectation(spec)}`, { key });
      }
      // Array items stay whole: a verify command may itself contain a separator.
      out[spec.name] = Array.isArray(value)
        ? value.map((v) => v.trim()).filter((v) => v !== '')
        : splitList(value, spec.separators);
    } else {
      const raw = flagToRaw(spec, value);
      const ok = raw === null ? null : checkRaw(spec, raw);
      if (ok === null) {
        const shown = Array.isArray(value) ? value.join(',') : String(value);
        throw new ConfigError(`invalid value ${JSON.stringify(shown)} for ${flag}: expected ${expectation(spec)}`, { key });
      }
      out[spec.name] = convert(spec, ok);
    }
    sources[key] = 'flag';
  }

  return { config: out as unknown as LoopConfig, warnings, sources };
}
