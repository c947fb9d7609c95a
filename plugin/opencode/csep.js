// csep for OpenCode: a plugin that `csep setup` copies into OpenCode's plugins/ directory
// (OpenCode has no command hooks, only JS plugins). It does what csep's hooks do for the
// other hosts:
//  - experimental.chat.system.transform: appends csep's SessionStart context (the repo's
//    MEMORY.md and the recall policy) to the system prompt. `csep hook opencode SessionStart`
//    runs once per session; its answer is cached, so the title call and every model call of
//    the session reuse it.
//  - event session.idle (the end of a run): `csep hook opencode Stop`, fire-and-forget; the
//    drainer it starts reads OpenCode's store.
// Nothing in here may break OpenCode: every failure is swallowed (csep logs its own trouble
// to $CSEP_HOME/logs/hook.log), and no call waits longer than START_TIMEOUT_MS.

import { spawn } from "node:child_process";

// `csep setup` writes the csep binary and the state directory here.
const CSEP_BIN = "csep";
const CSEP_HOME = "";
const START_TIMEOUT_MS = 10000;

function env() {
  const e = { ...process.env };
  if (CSEP_HOME) e.CSEP_HOME = CSEP_HOME;
  return e;
}

function payload(event, sessionID, directory) {
  return JSON.stringify({
    session_id: sessionID,
    cwd: directory,
    hook_event_name: event,
  });
}

// The context text csep answers for SessionStart ("" on any trouble).
function startContext(sessionID, directory) {
  return new Promise((resolve) => {
    let out = "";
    let done = false;
    const finish = (text) => {
      if (!done) {
        done = true;
        resolve(text);
      }
    };
    try {
      const child = spawn(CSEP_BIN, ["hook", "opencode", "SessionStart"], {
        env: env(),
        cwd: directory,
        stdio: ["pipe", "pipe", "ignore"],
      });
      const timer = setTimeout(() => {
        try {
          child.kill();
        } catch {}
        finish("");
      }, START_TIMEOUT_MS);
      child.on("error", () => finish(""));
      child.stdout.on("data", (b) => {
        out += b;
      });
      child.on("close", () => {
        clearTimeout(timer);
        try {
          const v = JSON.parse(out);
          finish(typeof v.additionalContext === "string" ? v.additionalContext : "");
        } catch {
          finish("");
        }
      });
      child.stdin.on("error", () => {});
      child.stdin.end(payload("SessionStart", sessionID, directory));
    } catch {
      finish("");
    }
  });
}

// `csep hook opencode Stop`, not waited for.
function archive(sessionID, directory) {
  try {
    const child = spawn(CSEP_BIN, ["hook", "opencode", "Stop"], {
      env: env(),
      cwd: directory,
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    });
    child.on("error", () => {});
    child.stdin.on("error", () => {});
    child.stdin.end(payload("Stop", sessionID, directory));
    child.unref();
  } catch {}
}

export const CsepPlugin = async (ctx) => {
  const directory = (ctx && (ctx.directory || ctx.worktree)) || process.cwd();
  const contexts = new Map();
  return {
    "experimental.chat.system.transform": async (input, output) => {
      try {
        const sessionID = (input && input.sessionID) || "";
        if (!contexts.has(sessionID)) {
          contexts.set(sessionID, startContext(sessionID, directory));
        }
        const text = await contexts.get(sessionID);
        if (text && output && Array.isArray(output.system)) {
          output.system.push(text);
        }
      } catch {}
    },
    event: async ({ event } = {}) => {
      try {
        if (!event || event.type !== "session.idle") return;
        const props = event.properties || event.props || {};
        const sessionID = props.sessionID || "";
        if (sessionID) archive(sessionID, directory);
      } catch {}
    },
  };
};
