// Argument parsing only: turns argv into a Command and hands it to commands.ts.

import { execute, type Command } from './commands.js';
import { VERSION } from './version.js';

export const USAGE = `tandem ${VERSION}: high-availability firmware for small routers

usage:
  tandem run [--config FILE]          run the daemon in the foreground
  tandem check [--config FILE]        validate the config; print every error with its path
  tandem status [--json]              state of the running daemon
  tandem demote --by N | --reset      raise (or lower) this node's CARP demotion, or clear it
  tandem maintenance on|off           persistent maintenance mode (survives restart)
  tandem failover                     bow out now if master (advert with advbase=advskew=255)
  tandem firewall render [--format pf|nft]
                                      print the firewall policy as pf.conf (default) or nftables
  tandem firewall apply [--confirm-within S]
                                      check and load it; with S, revert unless confirmed in S s
  tandem firewall confirm             keep a ruleset applied with --confirm-within
  tandem firewall status [--json]     the ruleset in force and any pending revert
  tandem balancer drain|undrain HOST [--pool NAME]
                                      no new connections to HOST (open ones finish), or back
                                      in service; persisted across restarts
  tandem power status [--json]        parked and awake pool hosts, latencies, energy, decisions
  tandem power wake|park HOST         wake or park a managed host now (MASTER of power.vhid only)
  tandem power pin HOST on|off        keep HOST awake whatever the planner says (persisted)
  tandem power simulate --trace FILE [--pool NAME] [--json]
                                      replay a seconds,demand CSV through the planner with the
                                      config's power section: energy against always-on and
                                      the clairvoyant optimum, shortfall, cycles per host
  tandem sync status [--json]         config sync: this node's shared hash and certificate
                                      fingerprint, each peer's state, refused connections
  tandem sync diff [--json]           the shared sections' difference with each peer
  tandem sync push [--force]          push the shared sections now (MASTER of sync.config.vhid);
                                      --force overrides a peer whose config diverged
  tandem passwd --hash                read a password on stdin, print its scrypt hash for
                                      api.users[].passwordHash
  tandem passwd USER                  set USER's web UI password in the config file (asked
                                      twice on a terminal, one line from a pipe)
  tandem network up [--config FILE]   bring up network.* (hostname, addresses, MTU, routes,
                                      nameservers); run at boot before tandem run; a second
                                      run changes nothing
  tandem upgrade IMAGE [--no-reboot]  write an upgrade bundle (.upgrade.tar) into the other
                                      slot, verify it and reboot into it once; it is committed
                                      when healthy, else the next boot returns to this slot
  tandem upgrade status [--json]      booted and committed slots, a trial, the last outcome
  tandem upgrade commit               keep the slot on trial now
  tandem demo                         simulated 3-node cluster in this terminal
  tandem --version | --help

options:
  --config FILE     config file (default: $TANDEM_CONFIG, then /cfg/tandem.yaml)
  --control PATH    control socket of the daemon (default: from the config, then
                    /run/tandem/control.sock)
`;

export class UsageError extends Error {}

interface Options {
  config?: string;
  control?: string;
  json: boolean;
  by?: number;
  reset: boolean;
  format?: 'pf' | 'nft';
  confirmWithin?: number;
  force: boolean;
  hash: boolean;
  noReboot: boolean;
  pool?: string;
  trace?: string;
  positional: string[];
}

function parseOptions(args: string[]): Options {
  const options: Options = { json: false, reset: false, force: false, hash: false, noReboot: false, positional: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = () => {
      const next = args[++i];
      if (next === undefined) throw new UsageError(`${arg} needs a value`);
      return next;
    };
    switch (arg) {
      case '--config':
        options.config = value();
        break;
      case '--control':
        options.control = value();
        break;
      case '--json':
        options.json = true;
        break;
      case '--force':
        options.force = true;
        break;
      case '--hash':
        options.hash = true;
        break;
      case '--no-reboot':
        options.noReboot = true;
        break;
      case '--reset':
        options.reset = true;
        break;
      case '--pool':
        options.pool = value();
        break;
      case '--trace':
        options.trace = value();
        break;
      case '--format': {
        const text = value();
        if (text !== 'pf' && text !== 'nft') throw new UsageError(`--format must be pf or nft, got ${JSON.stringify(text)}`);
        options.format = text;
        break;
      }
      case '--confirm-within': {
        const text = value();
        if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 86_400) {
          throw new UsageError(`--confirm-within must be a number of seconds 1..86400, got ${JSON.stringify(text)}`);
        }
        options.confirmWithin = Number(text);
        break;
      }
      case '--by': {
        const text = value();
        if (!/^-?\d+$/.test(text) || Math.abs(Number(text)) > 255) {
          throw new UsageError(`--by must be an integer -255..255, got ${JSON.stringify(text)}`);
        }
        options.by = Number(text);
        break;
      }
      default:
        if (arg.startsWith('-')) throw new UsageError(`unknown option ${arg}`);
        options.positional.push(arg);
    }
  }
  return options;
}

export function parseArgs(argv: string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') return { kind: 'help' };
  if (name === '--version' || name === '-V') return { kind: 'version' };
  // `tandem network --help` and the like print the usage (the image's init probes commands so).
  if (rest.includes('--help') || rest.includes('-h')) return { kind: 'help' };
  const options = parseOptions(rest);
  const noPositional = () => {
    if (options.positional.length > 0) throw new UsageError(`${name}: unexpected argument ${options.positional[0]}`);
  };
  const client = { config: options.config, control: options.control };
  switch (name) {
    case 'run':
      noPositional();
      return { kind: 'run', config: options.config };
    case 'check':
      noPositional();
      return { kind: 'check', config: options.config };
    case 'status':
      noPositional();
      return { kind: 'status', json: options.json, ...client };
    case 'demote':
      noPositional();
      if (options.reset === (options.by !== undefined)) throw new UsageError('demote needs exactly one of --by N or --reset');
      return options.reset ? { kind: 'demote', reset: true, ...client } : { kind: 'demote', by: options.by!, ...client };
    case 'maintenance': {
      const [mode, extra] = options.positional;
      if ((mode !== 'on' && mode !== 'off') || extra !== undefined) throw new UsageError('maintenance needs on or off');
      return { kind: 'maintenance', on: mode === 'on', ...client };
    }
    case 'failover':
      noPositional();
      return { kind: 'failover', ...client };
    case 'firewall': {
      const [sub, extra] = options.positional;
      if (extra !== undefined) throw new UsageError(`firewall: unexpected argument ${extra}`);
      if (sub === 'render') return { kind: 'firewall-render', format: options.format ?? 'pf', config: options.config };
      if (sub === 'apply') return { kind: 'firewall-apply', confirmWithin: options.confirmWithin, ...client };
      if (sub === 'confirm') return { kind: 'firewall-confirm', ...client };
      if (sub === 'status') return { kind: 'firewall-status', json: options.json, ...client };
      throw new UsageError('firewall needs render, apply, confirm or status');
    }
    case 'balancer': {
      const [sub, host, extra] = options.positional;
      if ((sub !== 'drain' && sub !== 'undrain') || host === undefined || extra !== undefined) {
        throw new UsageError('balancer needs drain HOST or undrain HOST (and optionally --pool NAME)');
      }
      return { kind: 'balancer-drain', host, on: sub === 'drain', ...(options.pool !== undefined ? { pool: options.pool } : {}), ...client };
    }
    case 'power': {
      const [sub, host, arg, extra] = options.positional;
      if (sub === 'status' && host === undefined) return { kind: 'power-status', json: options.json, ...client };
      if ((sub === 'wake' || sub === 'park') && host !== undefined && arg === undefined) return { kind: `power-${sub}`, host, ...client };
      if (sub === 'pin' && host !== undefined && (arg === 'on' || arg === 'off') && extra === undefined) return { kind: 'power-pin', host, on: arg === 'on', ...client };
      if (sub === 'simulate' && host === undefined) {
        if (options.trace === undefined) throw new UsageError('power simulate needs --trace FILE (a seconds,demand CSV)');
        return { kind: 'power-simulate', trace: options.trace, pool: options.pool, json: options.json, config: options.config };
      }
      throw new UsageError('power needs status [--json], wake HOST, park HOST, pin HOST on|off or simulate --trace FILE');
    }
    case 'sync': {
      const [sub, extra] = options.positional;
      if (extra !== undefined) throw new UsageError(`sync: unexpected argument ${extra}`);
      if (options.force && sub !== 'push') throw new UsageError('--force goes with sync push only');
      if (sub === 'status' || sub === 'diff') return { kind: `sync-${sub}`, json: options.json, ...client };
      if (sub === 'push') return { kind: 'sync-push', force: options.force, json: options.json, ...client };
      throw new UsageError('sync needs status, diff or push [--force]');
    }
    case 'passwd': {
      const [user, extra] = options.positional;
      if (extra !== undefined) throw new UsageError(`passwd: unexpected argument ${extra}`);
      if (options.hash === (user !== undefined)) throw new UsageError('passwd needs --hash or a USER');
      return options.hash ? { kind: 'passwd-hash' } : { kind: 'passwd-user', user: user!, config: options.config };
    }
    case 'network': {
      const [sub, extra] = options.positional;
      if (sub !== 'up' || extra !== undefined) throw new UsageError('network needs up [--config FILE]');
      return { kind: 'network-up', config: options.config };
    }
    case 'upgrade': {
      const [sub, extra] = options.positional;
      if (sub === undefined || extra !== undefined) throw new UsageError('upgrade needs IMAGE [--no-reboot], status [--json] or commit');
      if (options.noReboot && (sub === 'status' || sub === 'commit')) throw new UsageError('--no-reboot goes with upgrade IMAGE only');
      if (sub === 'status') return { kind: 'upgrade-status', json: options.json, ...client };
      if (sub === 'commit') return { kind: 'upgrade-commit', ...client };
      return { kind: 'upgrade-install', image: sub, reboot: !options.noReboot, ...client };
    }
    case 'demo':
      noPositional();
      return { kind: 'demo' };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}

export async function main(): Promise<void> {
  let command: Command;
  try {
    command = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`tandem: ${error.message}\n\n${USAGE}`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  if (command.kind === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command.kind === 'version') {
    process.stdout.write(`tandem ${VERSION}\n`);
    return;
  }
  process.exitCode = await execute(command);
}

