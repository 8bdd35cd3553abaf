// Handlers for status and the actions the CLI also has (issue 12 item 1): demote, maintenance,
// failover, pool drain, power status/wake/park/pin. Each maps onto one ControlRequest through
// runCommand, so the CLI, the control socket, MQTT commands and the API behave the same.

import { runCommand } from './routes-common.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

type Handler = (request: ApiRequest, backend: ApiBackend) => Promise<ApiResponse>;

/** Exactly `tandem status --json`: the daemon's status document. */
export const getStatus: Handler = async (_request, backend) => ({ status: 200, json: backend.status() });

/** `{"by": N}` or `{"reset": true}`, as `tandem demote --by N | --reset`; replies with the demotion. */
export const postDemote: Handler = (request, backend) => runCommand(backend, request, 'demote', ['by', 'reset']);

export const postMaintenance: Handler = (request, backend) => runCommand(backend, request, 'maintenance', ['on']);

/** `{ bowedOut: N }`: how many vhosts this node left MASTER of (0: it was master of none). */
export const postFailover: Handler = (request, backend) => runCommand(backend, request, 'failover', []);

/** `{host, pool?, on}`: drain (on) or put back in service (off), persisted like `tandem balancer drain`. */
export const postDrain: Handler = (request, backend) => runCommand(backend, request, 'drain', ['host', 'pool', 'on']);

export const getPower: Handler = (request, backend) => runCommand(backend, request, 'power-status', []);
export const postWake: Handler = (request, backend) => runCommand(backend, request, 'power-wake', ['host']);
export const postPark: Handler = (request, backend) => runCommand(backend, request, 'power-park', ['host']);
export const postPin: Handler = (request, backend) => runCommand(backend, request, 'power-pin', ['host', 'on']);
