#!/usr/bin/python3
# A switched PDU for Debian's snmpd (pass_persist protocol, snmpd.conf(5) "pass_persist"): APC
# PowerNet-MIB sPDUOutletCtl, rPDUOutletControl/Status, rPDU2OutletSwitchedControl/Status and
# Raritan PDU2-MIB switchingOperation/outletSwitchingState over one set of outlets kept in a JSON
# file (written by rename), so a test reads what the PDU did without asking over SNMP.
# Usage: pdu-pass.py STATE_JSON OUTLETS [HOOK ARG...]. With HOOK, each change of an outlet runs
# `HOOK ARG... N on|off` (detached), so an outlet can start and stop a host's server in a lab.
# Run with Debian's /usr/bin/python3 (not a pyenv shim).
import json, os, subprocess, sys, time

STATE, COUNT = sys.argv[1], int(sys.argv[2])
HOOK = sys.argv[3:]
REBOOT_S = 2.0
APC = (1, 3, 6, 1, 4, 1, 318, 1, 1)
RAR = (1, 3, 6, 1, 4, 1, 13742, 6, 4, 1, 2, 1)
# column -> (kind, writable, value when on, value when off, {written value: command})
COLUMNS = {
    APC + (4, 4, 2, 1, 3): ("spdu", True, 1, 2, {1: "on", 2: "off", 3: "reboot"}),
    APC + (12, 3, 3, 1, 1, 4): ("rpdu-ctl", True, 1, 2, {1: "on", 2: "off", 3: "reboot"}),
    APC + (12, 3, 5, 1, 1, 4): ("rpdu-state", False, 1, 2, {}),
    APC + (26, 9, 2, 4, 1, 5): ("rpdu2-ctl", True, 1, 2, {1: "on", 2: "off", 3: "reboot"}),
    APC + (26, 9, 2, 3, 1, 5): ("rpdu2-state", False, 2, 1, {}),
    RAR + (2,): ("raritan-ctl", True, 1, 0, {0: "off", 1: "on", 2: "reboot"}),
    RAR + (3,): ("raritan-state", False, 7, 8, {}),
}


def instance(column, n):
    return column + ((1, n) if column[:len(RAR)] == RAR else (n,))


ROWS = sorted((instance(c, n), c, n) for c in COLUMNS for n in range(1, COUNT + 1))


def load():
    try:
        with open(STATE) as f:
            state = json.load(f)
    except (OSError, ValueError):
        state = {"outlets": {str(n): "off" for n in range(1, COUNT + 1)}, "log": [], "rebootAt": {}}
    now = time.time()
    for n, at in list(state["rebootAt"].items()):
        if now >= at:
            state["outlets"][n] = "on"
            del state["rebootAt"][n]
            save(state)
            hook(n, "on")
    return state


def hook(n, power):
    if HOOK:
        # Detached and fully redirected: snmpd waits for this script's answer, not for the hook.
        subprocess.Popen(HOOK + [str(n), power], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)


def save(state):
    tmp = STATE + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.rename(tmp, STATE)


def parse(text):
    return tuple(int(p) for p in text.strip().strip(".").split("."))


def show(oid):
    return "." + ".".join(str(p) for p in oid)


def value(state, column, n):
    kind, _, on, off, _ = COLUMNS[column]
    return on if state["outlets"][str(n)] == "on" else off


def answer(lines):
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def main():
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        cmd = line.strip()
        try:
            if cmd == "PING":
                answer(["PONG"])
            elif cmd in ("get", "getnext"):
                oid = parse(sys.stdin.readline())
                state = load()
                if cmd == "get":
                    row = next((r for r in ROWS if r[0] == oid), None)
                else:
                    row = next((r for r in ROWS if r[0] > oid), None)
                if row is None:
                    answer(["NONE"])
                else:
                    answer([show(row[0]), "integer", str(value(state, row[1], row[2]))])
            elif cmd == "set":
                oid = parse(sys.stdin.readline())
                typ, _, raw = sys.stdin.readline().strip().partition(" ")
                row = next((r for r in ROWS if r[0] == oid), None)
                if row is None or not COLUMNS[row[1]][1]:
                    answer(["not-writable"])
                    continue
                if typ != "integer":
                    answer(["wrong-type"])
                    continue
                command = COLUMNS[row[1]][4].get(int(raw))
                if command is None:
                    answer(["wrong-value"])
                    continue
                state = load()
                n = str(row[2])
                before = state["outlets"][n]
                state["outlets"][n] = "on" if command == "on" else "off"
                if command == "reboot":
                    state["rebootAt"][n] = time.time() + REBOOT_S
                state["log"].append({"outlet": row[2], "command": command, "via": COLUMNS[row[1]][0]})
                save(state)
                if state["outlets"][n] != before:
                    hook(n, state["outlets"][n])
                answer(["DONE"])
            elif cmd == "":
                continue
            else:
                answer(["NONE"])
        except Exception as error:  # snmpd answers notWritable if the script dies mid-set
            sys.stderr.write("pdu-pass: %r\n" % (error,))
            answer(["NONE"])


main()
