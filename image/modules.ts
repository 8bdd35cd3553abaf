// Which kernel modules the trimmed rootfs keeps: the arch profile's allowlist (whole trees or
// module names) closed over modules.dep, so every kept module still loads. Pure: the trim step
// (image/steps/trim.ts) feeds it the file list and modules.dep and deletes the rest.

/** modules.dep: `kernel/a/b.ko: kernel/c.ko kernel/d.ko` per line, paths relative to the kver dir. */
export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const module = line.slice(0, colon).trim();
    const rest = line.slice(colon + 1).trim();
    deps.set(module, rest === '' ? [] : rest.split(/\s+/));
  }
  return deps;
}

/** `kernel/drivers/net/ethernet/intel/e1000e/e1000e.ko.xz` -> `e1000e` (dashes as underscores). */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');
}

function allowed(path: string, allowlist: readonly string[]): boolean {
  const inKernel = path.startsWith('kernel/') ? path.slice('kernel/'.length) : path;
  const name = moduleName(path);
  return allowlist.some((entry) => {
    if (entry.endsWith('/')) return inKernel.startsWith(entry);
    if (entry.includes('/')) return inKernel === entry || inKernel.startsWith(`${entry}.`);
    return name === entry.replace(/-/g, '_');
  });
}

/** The modules to keep (paths as in modules.dep): allowlisted ones and all they depend on. */
export function selectModules(deps: ReadonlyMap<string, readonly string[]>, allowlist: readonly string[]): Set<string> {
  const keep = new Set<string>();
  const pending = [...deps.keys()].filter((path) => allowed(path, allowlist));
  while (pending.length > 0) {
    const path = pending.pop() as string;
    if (keep.has(path)) continue;
    keep.add(path);
    for (const dep of deps.get(path) ?? []) if (!keep.has(dep)) pending.push(dep);
  }
  return keep;
}

/** Allowlist entries that matched nothing: a renamed driver would otherwise vanish silently. */
export function unmatchedEntries(deps: ReadonlyMap<string, readonly string[]>, allowlist: readonly string[]): string[] {
  const paths = [...deps.keys()];
  return allowlist.filter((entry) => !paths.some((path) => allowed(path, [entry])));
}
