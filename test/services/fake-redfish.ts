// A Redfish service with one or more ComputerSystems, written to DMTF DSP0266 (1.x) and the
// ComputerSystem/Session schemas: service root open to all, every other resource needs a session
// token (POST SessionService/Sessions → 201, X-Auth-Token, Location) or Basic; 401 with
// Base.NoValidSession otherwise; ComputerSystem.Reset with ResetType@Redfish.AllowableValues.
// A GracefulShutdown passes through PoweringOff for `shutdownMs` (the OS stopping).

import { randomBytes } from 'node:crypto';
import type { FakeHttpAnswer, FakeHttpExchange } from '../../firmware/power/http.js';

export const RESET_TYPES = ['On', 'ForceOff', 'GracefulShutdown', 'ForceRestart', 'PowerCycle', 'ForceOn'];

interface SystemState {
  powerState: 'On' | 'Off' | 'PoweringOff' | 'PoweringOn';
  offAt?: number;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): FakeHttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json', 'OData-Version': '4.0', ...headers }, body: JSON.stringify(body) };
}

function error(status: number, messageId: string, message: string): FakeHttpAnswer {
  return json(status, { error: { code: 'Base.1.8.GeneralError', message, '@Message.ExtendedInfo': [{ MessageId: `Base.1.8.${messageId}`, Message: message }] } });
}

export class FakeRedfish {
  readonly systems = new Map<string, SystemState>();
  readonly sessions = new Map<string, string>(); // id -> token
  readonly resets: Array<{ system: string; resetType: string }> = [];
  /** Every session ever created, so a test sees that the driver deleted its own. */
  created = 0;

  constructor(
    systemIds: string[],
    private readonly user: string,
    private readonly password: string,
    private readonly now: () => number = Date.now,
    private readonly shutdownMs = 300,
  ) {
    for (const id of systemIds) this.systems.set(id, { powerState: 'Off' });
  }

  powerState(id: string): string {
    const s = this.systems.get(id)!;
    this.settle(s);
    return s.powerState;
  }

  private settle(s: SystemState): void {
    if (s.powerState === 'PoweringOff' && s.offAt !== undefined && this.now() >= s.offAt) {
      s.powerState = 'Off';
      delete s.offAt;
    }
  }

  private authorised(x: FakeHttpExchange): boolean {
    const token = x.headers['x-auth-token'];
    if (token !== undefined) return [...this.sessions.values()].includes(token);
    const basic = /^Basic (.+)$/.exec(x.headers['authorization'] ?? '');
    return basic?.[1] !== undefined && Buffer.from(basic[1], 'base64').toString() === `${this.user}:${this.password}`;
  }

  handle = (x: FakeHttpExchange): FakeHttpAnswer => {
    const path = x.url.pathname.replace(/\/$/, '');
    if (path === '/redfish/v1' && x.method === 'GET') {
      return json(200, {
        '@odata.id': '/redfish/v1', '@odata.type': '#ServiceRoot.v1_5_0.ServiceRoot', Id: 'RootService', RedfishVersion: '1.6.0',
        Systems: { '@odata.id': '/redfish/v1/Systems' }, SessionService: { '@odata.id': '/redfish/v1/SessionService' },
        Links: { Sessions: { '@odata.id': '/redfish/v1/SessionService/Sessions' } },
      });
    }
    if (path === '/redfish/v1/SessionService/Sessions' && x.method === 'POST') {
      let body: { UserName?: string; Password?: string } = {};
      try {
        body = JSON.parse(x.body) as typeof body;
      } catch {
        return error(400, 'MalformedJSON', 'The request body submitted was malformed JSON.');
      }
      if (body.UserName !== this.user || body.Password !== this.password) return error(401, 'NoValidSession', 'There is no valid session established with the implementation.');
      const id = randomBytes(4).toString('hex');
      const token = randomBytes(16).toString('hex');
      this.sessions.set(id, token);
      this.created++;
      const at = `/redfish/v1/SessionService/Sessions/${id}`;
      return json(201, { '@odata.id': at, '@odata.type': '#Session.v1_3_0.Session', Id: id, UserName: this.user }, { 'X-Auth-Token': token, Location: at });
    }
    if (!this.authorised(x)) return error(401, 'NoValidSession', 'There is no valid session established with the implementation.');
    const session = /^\/redfish\/v1\/SessionService\/Sessions\/([^/]+)$/.exec(path);
    if (session && x.method === 'DELETE') {
      if (!this.sessions.delete(session[1]!)) return error(404, 'ResourceMissingAtURI', 'The resource at the URI was not found.');
      return { status: 204 };
    }
    if (path === '/redfish/v1/Systems' && x.method === 'GET') {
      const members = [...this.systems.keys()].map((id) => ({ '@odata.id': `/redfish/v1/Systems/${id}` }));
      return json(200, { '@odata.id': '/redfish/v1/Systems', '@odata.type': '#ComputerSystemCollection.ComputerSystemCollection', Members: members, 'Members@odata.count': members.length });
    }
    const system = /^\/redfish\/v1\/Systems\/([^/]+)(\/Actions\/ComputerSystem\.Reset)?$/.exec(path);
    const state = system ? this.systems.get(system[1]!) : undefined;
    if (!system || !state) return error(404, 'ResourceMissingAtURI', `The resource at the URI ${path} was not found.`);
    const id = system[1]!;
    this.settle(state);
    if (!system[2] && x.method === 'GET') {
      return json(200, {
        '@odata.id': `/redfish/v1/Systems/${id}`, '@odata.type': '#ComputerSystem.v1_10_0.ComputerSystem', Id: id, PowerState: state.powerState,
        Actions: { '#ComputerSystem.Reset': { target: `/redfish/v1/Systems/${id}/Actions/ComputerSystem.Reset`, 'ResetType@Redfish.AllowableValues': RESET_TYPES } },
      });
    }
    if (system[2] && x.method === 'POST') {
      let resetType: unknown;
      try {
        resetType = (JSON.parse(x.body) as { ResetType?: unknown }).ResetType;
      } catch {
        return error(400, 'MalformedJSON', 'The request body submitted was malformed JSON.');
      }
      if (typeof resetType !== 'string' || !RESET_TYPES.includes(resetType)) return error(400, 'ActionParameterValueNotInList', `The value ${String(resetType)} for the parameter ResetType is not in the list of acceptable values.`);
      if (resetType === 'On' && state.powerState === 'On') return error(409, 'ResetNotAllowed', 'The system is already On.');
      this.resets.push({ system: id, resetType });
      if (resetType === 'On' || resetType === 'ForceOn' || resetType === 'PowerCycle' || resetType === 'ForceRestart') state.powerState = 'On';
      else if (resetType === 'ForceOff') state.powerState = 'Off';
      else if (state.powerState === 'On') {
        state.powerState = 'PoweringOff';
        state.offAt = this.now() + this.shutdownMs;
      }
      return { status: 204 };
    }
    return error(405, 'OperationNotAllowed', `${x.method} is not allowed on ${path}.`);
  };
}
