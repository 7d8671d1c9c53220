// Branch names loopd will create or move, checked when a run is created rather than when its
// merge runs after all the paid work. The rules are git's (git check-ref-format --branch), plus
// no leading dash, which git accepts here but which turns the name into an option on a command line.

/** Why `name` cannot be a branch name, or null when it can. */
export function branchNameProblem(name: string): string | null {
  if (name === '') return 'it is empty';
  if (name.startsWith('-')) return 'it starts with "-"';
  if (name === '@') return 'it is "@"';
  if (name === 'HEAD') return 'HEAD is not a branch';
  if (/^refs\//.test(name)) return 'give the branch name itself, without refs/heads/';
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f]/.test(name)) return 'it contains a space or a control character';
  const bad = /[~^:?*[\\]/.exec(name);
  if (bad) return `it contains "${bad[0]}"`;
  if (name.includes('..')) return 'it contains ".."';
  if (name.includes('@{')) return 'it contains "@{"';
  if (name.startsWith('/') || name.endsWith('/')) return 'it starts or ends with "/"';
  if (name.includes('//')) return 'it contains "//"';
  if (name.endsWith('.')) return 'it ends with "."';
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `a part ("${part}") starts with "."`;
    if (part.endsWith('.lock')) return `a part ("${part}") ends with ".lock"`;
  }
  return null;
}

/**
 * Throws one line naming the setting, the value, what is wrong and what to do. A prefix is checked
 * as the start of a branch name (it may end with "/").
 */
export function assertBranchName(setting: string, name: string, makeError: (msg: string) => Error, opts: { prefix?: boolean } = {}): void {
  if (opts.prefix && name === '') return;
  const problem = branchNameProblem(opts.prefix ? `${name}x` : name);
  if (problem !== null) {
    throw makeError(
      `invalid ${setting} "${JSON.stringify(name).slice(1, -1)}": ${problem}; use a git branch name such as agent/my-feature (git check-ref-format rules)`,
    );
  }
}
