// Types for launcher.js, which stays plain JS so that an old Node can parse it.
export declare const MIN_NODE: [number, number, number];
export declare function parseNodeVersion(version: string): [number, number, number] | null;
export declare function isSupportedNode(version: string, min?: readonly number[]): boolean;
export declare function packageRoot(scriptUrl: string): string;
export declare function bundledNodePath(pkgRoot: string): string;
export type LaunchPlan = { action: 'run' } | { action: 'relaunch'; node: string } | { action: 'fail'; message: string };
export declare function isInstalled(pkgRoot: string, exists: (path: string) => boolean): boolean;
export declare function planLaunch(o: {
  version: string;
  pkgRoot: string;
  exists: (path: string) => boolean;
  relaunched?: boolean;
  installed?: boolean;
}): LaunchPlan;
export declare function ensureNode(scriptUrl: string): boolean;
