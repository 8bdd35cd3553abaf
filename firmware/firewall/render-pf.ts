// Renders the policy as pf.conf(5) of current OpenBSD: zone macros, tables, options, `match
// out ... nat-to` translation, then filter rules in pf's own order (the last matching rule
// decides, a quick one at once), port forwards as `pass in quick ... rdr-to`, and one anchor per
// table redirect, `anchor "tandem" { anchor "redirect-<table>" { ... rdr-to <table> round-robin } }`,
// so the balancer can reload one redirect with `pfctl -a tandem/redirect-<table>` as relayd does.
// Pure: policy in, text out. Tables hold no weights in pf: repeated members appear once.

import type { Family } from './addresses.js';
import type { Endpoint, FilterRule, Forward, NatRule, On, Policy, PortRange } from './model.js';

const INDENT = '\t';

function list(items: string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function ports(ranges: PortRange[]): string {
  return `port ${list(ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)))}`;
}

function on(o: On | undefined): string | undefined {
  if (!o) return undefined;
  if (o.zone) return `on $${o.zone}`;
  return `on ${list(o.interfaces)}`;
}

/** Host items of an endpoint, optionally of one family only; undefined means "any". */
function hosts(e: Endpoint, family?: Family): string[] | undefined {
  const items = [
    ...e.addresses.filter((a) => family === undefined || a.family === family).map((a) => a.text),
    ...e.tables.map((t) => `<${t}>`),
    ...(e.self ? ['self'] : []),
  ];
  if (items.length === 0 && e.addresses.length === 0 && e.tables.length === 0 && !e.self) return undefined;
  return items;
}

/** `from X port P to Y port Q`, or `all`; null when a family leaves one side empty. */
function fromTo(from: Endpoint, to: Endpoint, family?: Family): string | null {
  const src = hosts(from, family);
  const dst = hosts(to, family);
  if ((src && src.length === 0) || (dst && dst.length === 0)) return null;
  const parts: string[] = [];
  if (src || from.ports.length) parts.push(`from ${src ? list(src) : 'any'}${from.ports.length ? ` ${ports(from.ports)}` : ''}`);
  if (dst || to.ports.length) parts.push(`to ${dst ? list(dst) : 'any'}${to.ports.length ? ` ${ports(to.ports)}` : ''}`);
  return parts.length ? parts.join(' ') : 'all';
}

const af = (f: Family | undefined) => (f === 4 ? 'inet' : f === 6 ? 'inet6' : undefined);
const quote = (text: string) => `"${text}"`;

function protoSpec(names: string[]): string | undefined {
  return names.length ? `proto ${list(names)}` : undefined;
}

function join(parts: (string | undefined | false)[]): string {
  return parts.filter((p): p is string => typeof p === 'string' && p.length > 0).join(' ');
}

function filterRule(r: FilterRule, comment: string | undefined): string[] {
  // pf takes icmp-type or icmp6-type, not both: a rule over ICMP and ICMPv6 types splits by family.
  const variants: { family?: Family; protos: string[]; icmp?: string }[] = [];
  if (r.icmpTypes.length > 0) {
    for (const p of r.protos) {
      const family: Family = p.name === 'icmp' ? 4 : 6;
      const names = r.icmpTypes.map((t) => (family === 4 ? t.v4?.pf : t.v6?.pf)).filter((n): n is string => n !== undefined);
      variants.push({ family, protos: [p.pf], icmp: `${family === 4 ? 'icmp-type' : 'icmp6-type'} ${list(names)}` });
    }
  } else {
    variants.push({ ...(r.family ? { family: r.family } : {}), protos: r.protos.map((p) => p.pf) });
  }
  const lines: string[] = [];
  for (const v of variants) {
    const hostsText = fromTo(r.from, r.to, v.family);
    if (hostsText === null) continue;
    const options: string[] = [];
    if (r.stateless) options.push('no state');
    else {
      const state = [
        ...(r.state.max ? [`max ${r.state.max}`] : []),
        ...(r.state.maxSrcConn ? [`source-track rule`, `max-src-conn ${r.state.maxSrcConn}`] : []),
      ];
      if (state.length) options.push(`keep state (${state.join(', ')})`);
    }
    if (r.label) options.push(`label ${quote(r.label)}`);
    lines.push(
      join([
        r.action,
        r.direction,
        r.log && 'log',
        r.quick && 'quick',
        on(r.on),
        af(v.family),
        protoSpec(v.protos),
        hostsText,
        v.icmp,
        ...options,
      ]) + (comment ? `  # ${comment}` : ''),
    );
  }
  return lines;
}

function natRules(n: NatRule): string[] {
  const families: Family[] = n.family ? [n.family] : [4, 6];
  const lines: string[] = [];
  const label = n.label ? ` label ${quote(n.label)}` : '';
  const comment = `  # ${n.path.replace(/^firewall\./, '')}`;
  if (n.target.kind === 'interface') {
    // `($if)` follows the interface's address as it changes; one rule per interface.
    const single = n.on.zone && n.on.interfaces.length === 1;
    for (const ifname of n.on.interfaces) {
      const hostsText = fromTo(n.from, n.to, n.family);
      if (hostsText === null) continue;
      const where = single ? `$${n.on.zone}` : ifname;
      lines.push(join(['match out on', where, af(n.family), protoSpec(n.protos.map((p) => p.pf)), hostsText, `nat-to (${where})`]) + label + comment);
    }
    return lines;
  }
  for (const f of families) {
    const address = n.target.byFamily[f];
    if (!address) continue;
    const hostsText = fromTo(n.from, n.to, f);
    if (hostsText === null) continue;
    lines.push(join(['match out', on(n.on), af(f), protoSpec(n.protos.map((p) => p.pf)), hostsText, `nat-to ${address}`]) + label + comment);
  }
  return lines;
}

function forwardRules(fw: Forward): string[] {
  const lines: string[] = [];
  for (const f of fw.families) {
    const hostsText = fromTo(fw.from, fw.to, f);
    if (hostsText === null) continue;
    const target =
      fw.target.kind === 'address'
        ? `rdr-to ${fw.target.address.text}${fw.target.port ? ` port ${fw.target.port}` : ''}`
        : `rdr-to <${fw.target.table}>${fw.target.port ? ` port ${fw.target.port}` : ''} round-robin`;
    for (const where of [fw.on, ...(fw.reflection ? [fw.reflection.on] : [])]) {
      lines.push(
        join([
          'pass in',
          fw.log && 'log',
          'quick',
          on(where),
          af(f),
          protoSpec(fw.protos.map((p) => p.pf)),
          hostsText,
          target,
          `label ${quote(fw.label ?? `forward ${fw.name}`)}`,
        ]),
      );
    }
  }
  return lines;
}

/**
 * NAT reflection, pfSense's "pure NAT": reflected clients leave towards the inner host with the
 * router's address, so its answers come back through the router. Match rules, so they sit with
 * the outbound NAT ahead of any quick filter rule.
 */
function reflectionRules(fw: Forward): string[] {
  const lines: string[] = [];
  if (!fw.reflection) return lines;
  for (const f of fw.families) {
    const nets = fw.reflection.networks.filter((n) => n.family === f).map((n) => n.text);
    if (nets.length === 0) continue;
    const inner = fw.target.kind === 'address' ? fw.target.address.text : `<${fw.target.table}>`;
    const innerPorts = fw.target.port !== undefined ? ` port ${fw.target.port}` : fw.to.ports.length ? ` ${ports(fw.to.ports)}` : '';
    for (const ifname of fw.reflection.on.interfaces) {
      lines.push(
        join(['match out on', ifname, af(f), protoSpec(fw.protos.map((p) => p.pf)), `from ${list(nets)} to ${inner}${innerPorts}`, `received-on ${ifname}`, `nat-to (${ifname})`]) +
          `  # ${fw.path.replace(/^firewall\./, '')}: reflection`,
      );
    }
  }
  return lines;
}

export function renderPf(policy: Policy): string {
  const out: string[] = [];
  const section = (title: string) => out.push('', `# ${title}`);
  out.push(`# pf.conf(5) for node ${policy.node}, rendered by tandem from its config; edit the config, not this file.`);
  out.push('# Check and load on OpenBSD: pfctl -nf pf.conf && pfctl -f pf.conf');

  section('Zones: one macro per zone, naming its interfaces');
  for (const z of policy.zones) out.push(`${z.name} = ${quote(z.interfaces.length === 1 ? z.interfaces[0]! : `{ ${z.interfaces.join(' ')} }`)}`);

  if (policy.tables.length) {
    section('Tables: the balancer and the power manager replace their members at run time (pfctl -t NAME -T replace)');
    for (const t of policy.tables) {
      const members = [...new Set(t.members)];
      // Without a list, a reload keeps what the table holds now; `{ }` would empty it.
      out.push(`table <${t.name}> persist${members.length ? ` { ${members.join(', ')} }` : ''}`);
    }
  }

  section('Options');
  out.push(`set block-policy ${policy.blockPolicy}`);
  out.push('set skip on lo');

  if (policy.nat.length) {
    section('Outbound NAT');
    for (const n of policy.nat) out.push(...natRules(n));
  }
  const reflected = policy.forwards.flatMap(reflectionRules);
  if (reflected.length) {
    section('NAT reflection (firewall.forwards[].reflection)');
    out.push(...reflected);
  }

  section('Filtering: the last matching rule decides; a quick rule decides at once');
  out.push(`${policy.defaults.in} in all`);
  out.push(`${policy.defaults.out} out all`);

  const builtinTitles: Record<string, string> = {
    carp: 'HA: CARP adverts on every CARP interface (firewall.ha.carp)',
    'state-sync': 'HA: state sync on the sync zone: pfsync, and conntrackd on Linux (firewall.ha.stateSync)',
    'anti-lockout': 'HA: anti-lockout, SSH and the web UI from the management zone (firewall.ha.antiLockout)',
    ndp: 'IPv6 neighbour discovery (firewall.ha.ndp)',
  };
  let last: string | undefined;
  for (const r of policy.builtins) {
    if (r.builtin !== last) section(builtinTitles[r.builtin!]!);
    last = r.builtin;
    out.push(...filterRule(r, undefined));
  }

  if (policy.antispoof.length) {
    section('Anti-spoofing: a zone\'s networks only arrive on its own interfaces');
    for (const z of policy.antispoof) out.push(`antispoof quick for $${z.name}`);
  }

  if (policy.rules.length) {
    section('Rules (firewall.rules)');
    for (const r of policy.rules) out.push(...filterRule(r, r.path.replace(/^firewall\./, '')));
  }

  const direct = policy.forwards.filter((f) => f.target.kind === 'address');
  if (direct.length) {
    section('Port forwards (firewall.forwards)');
    for (const f of direct) out.push(...forwardRules(f));
  }

  const byTable = new Map<string, Forward[]>();
  for (const f of policy.forwards) {
    if (f.target.kind === 'table') byTable.set(f.target.table, [...(byTable.get(f.target.table) ?? []), f]);
  }
  if (byTable.size) {
    section('Redirects to tables: one anchor each, round-robin over the members');
    out.push('anchor "tandem" {');
    for (const [table, forwards] of byTable) {
      out.push(`${INDENT}anchor "redirect-${table}" {`);
      for (const f of forwards) for (const line of forwardRules(f)) out.push(`${INDENT}${INDENT}${line}`);
      out.push(`${INDENT}}`);
    }
    out.push('}');
  }
  return out.join('\n') + '\n';
}
