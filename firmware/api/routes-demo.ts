// The demo's own routes (only `tandem demo` adds them to its servers): the simulated cluster's
// nodes as the page's demo panel shows them, and the operator's verbs (crash, stop, start, cut,
// plug, partition, heal) as POSTs, under the same session and CSRF rules as every mutation.

import type { ApiRequest, ApiResponse, Route } from './types.js';
import { CLIENT, type SimCluster } from '../demo/cluster.js';

/** One simulated router as `GET /api/demo` shows it. */
export interface DemoNodeView {
  name: string;
  /** Where this node's own web UI is served (one loopback address per node). */
  url?: string;
  /** True for the node whose server answered: the page is that node's console. */
  self: boolean;
  /** false after crash or stop: its console (at `url`) still answers, its daemon does not. */
  running: boolean;
  linkUp: boolean;
  demotion?: number;
  carp: { vhid: number; state: string }[];
}

/** `GET /api/demo`: the whole cluster, the segment's partition and its recent events. */
export interface DemoView {
  nodes: DemoNodeView[];
  /** The groups that hear each other, or null while the segment is whole. */
  partition: string[][] | null;
  /** The newest last: what the terminal view prints, for the page's demo log. */
  events: { time: string; node: string; text: string }[];
}

/** The POST verbs, `/api/demo/<verb>`; the body is `{ node }`, `{ groups }` or nothing. */
export const DEMO_VERBS = ['crash', 'stop', 'start', 'cut', 'plug', 'partition', 'heal'] as const;
export type DemoVerb = (typeof DEMO_VERBS)[number];

export interface DemoRouteOptions {
  /** The node whose server these routes are mounted on. */
  self: string;
  /** Each node's console URL, by node name. */
  urls?: Record<string, string>;
  /** How many cluster events `GET /api/demo` returns (default 30). */
  recentEvents?: number;
}

export function demoView(cluster: SimCluster, options: DemoRouteOptions): DemoView {
  const recent = options.recentEvents ?? 30;
  return {
    nodes: cluster.statuses().map((s) => ({
      name: s.name,
      ...(options.urls?.[s.name] ? { url: options.urls[s.name] } : {}),
      self: s.name === options.self,
      running: s.running,
      linkUp: s.linkUp,
      ...(s.status ? { demotion: s.status.demotion.total } : {}),
      carp: (s.status?.carp ?? []).map((v) => ({ vhid: v.vhid, state: v.state })),
    })),
    partition: cluster.segment.partitions ?? null,
    events: cluster.events.slice(-recent).map((e) => ({ time: new Date(e.at).toISOString(), node: e.node, text: e.text })),
  };
}

const invalid = (path: string, error: string): ApiResponse => ({ status: 400, json: { error, path } });

/** The node a `{ node }` body names, or the 400 reply naming what is wrong. */
function nodeOf(cluster: SimCluster, body: unknown): { name: string } | { reply: ApiResponse } {
  const node = (body as { node?: unknown } | null)?.node;
  const names = [...cluster.nodes.keys()];
  if (typeof node !== 'string' || node === '') return { reply: invalid('node', `needs "node": one of ${names.join(', ')}`) };
  if (!cluster.nodes.has(node)) return { reply: invalid('node', `no node ${JSON.stringify(node)} (nodes: ${names.join(', ')})`) };
  return { name: node };
}

/** `{ groups: [["fw-a"], ["fw-b", "fw-c"]] }`: two or more groups of node names (or "client"). */
function groupsOf(cluster: SimCluster, body: unknown): { groups: string[][] } | { reply: ApiResponse } {
  const groups = (body as { groups?: unknown } | null)?.groups;
  if (!Array.isArray(groups) || groups.length < 2) return { reply: invalid('groups', 'needs "groups": two or more lists of node names') };
  const seen = new Set<string>();
  for (const [i, group] of groups.entries()) {
    if (!Array.isArray(group) || group.length === 0) return { reply: invalid(`groups[${i}]`, 'must be a non-empty list of node names') };
    for (const [j, name] of group.entries()) {
      if (typeof name !== 'string' || (name !== CLIENT && !cluster.nodes.has(name))) {
        return { reply: invalid(`groups[${i}][${j}]`, `no node ${JSON.stringify(name)} (nodes: ${[...cluster.nodes.keys(), CLIENT].join(', ')})`) };
      }
      if (seen.has(name)) return { reply: invalid(`groups[${i}][${j}]`, `${name} is in two groups`) };
      seen.add(name);
    }
  }
  return { groups: groups as string[][] };
}

/** Runs a verb on the cluster; the cluster's own refusals ("already running") are 409s. */
async function act(cluster: SimCluster, verb: DemoVerb, body: unknown): Promise<ApiResponse | undefined> {
  if (verb === 'heal') {
    cluster.heal();
    return undefined;
  }
  if (verb === 'partition') {
    const parsed = groupsOf(cluster, body);
    if ('reply' in parsed) return parsed.reply;
    cluster.partition(parsed.groups);
    return undefined;
  }
  const parsed = nodeOf(cluster, body);
  if ('reply' in parsed) return parsed.reply;
  const { name } = parsed;
  try {
    if (verb === 'crash') await cluster.crash(name);
    else if (verb === 'stop') await cluster.stop(name);
    else if (verb === 'start') await cluster.start(name);
    else cluster.setLink(name, verb === 'plug');
  } catch (error) {
    return { status: 409, json: { error: (error as Error).message, path: 'node' } };
  }
  return undefined;
}

/** The demo's routes for one node's server: mount them beside `routes` only in the demo. */
export function demoRoutes(cluster: SimCluster, options: DemoRouteOptions): Route[] {
  const view: Route = {
    method: 'GET',
    path: '/api/demo',
    access: 'session',
    handle: async () => ({ status: 200, json: demoView(cluster, options) }),
  };
  const verbs = DEMO_VERBS.map(
    (verb): Route => ({
      method: 'POST',
      path: `/api/demo/${verb}`,
      access: 'session',
      action: `demo ${verb}`,
      handle: async (request: ApiRequest) => (await act(cluster, verb, request.body)) ?? { status: 200, json: demoView(cluster, options) },
    }),
  );
  return [view, ...verbs];
}
