// Peer engines on Airlock's benchmark workloads: CEL (@bufbuild/cel, @marcbachmann/cel-js) and Cedar
// (@cedar-policy/cedar-wasm). See bench/README.md for the workload format and the Cedar mapping.
//
//   node run.mjs --workloads DIR [--only W2-10,W3] [--engines bufbuild-cel,cel-js,cedar-wasm]
//                [--runs 5] [--run-seconds 0.3] [--json OUT]
//
// For every workload and engine: first every transfer is judged and compared with Airlock's decision
// (DIR/<workload>/decisions.jsonl, written by `airlock_bench --write-workloads`); any difference is
// reported and the engine is not timed on that workload. Then the median of --runs timed runs gives
// ns per decision. Inputs are converted to each engine's value model before timing, as Airlock's facts
// are parsed before timing.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { celEnv, parse as bufParse, plan as bufPlan, isCelError, celMap, celList } from "@bufbuild/cel";
import { strings as bufStrings } from "@bufbuild/cel/ext";
import { parse as celJsParse } from "@marcbachmann/cel-js";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";

// ---------------------------------------------------------------------------------------------------
// Arguments.

const args = { workloads: null, only: null, engines: ["bufbuild-cel", "cel-js", "cedar-wasm"], runs: 5,
  runSeconds: 0.3, verifySeconds: 20, json: null };
for (let i = 2; i < process.argv.length; i++) {
  const flag = process.argv[i];
  const value = process.argv[++i];
  if (flag === "--workloads") args.workloads = value;
  else if (flag === "--only") args.only = value.split(",");
  else if (flag === "--engines") args.engines = value.split(",");
  else if (flag === "--runs") args.runs = Number(value);
  else if (flag === "--run-seconds") args.runSeconds = Number(value);
  else if (flag === "--json") args.json = value;
  else if (flag === "--verify-seconds") args.verifySeconds = Number(value);
  else { console.error(`run.mjs: unknown flag ${flag}`); process.exit(2); }
}
if (!args.workloads) { console.error("usage: node run.mjs --workloads DIR [...]"); process.exit(2); }

// ---------------------------------------------------------------------------------------------------
// Facts: every schema field takes its default unless the transfer sets it (Airlock's rule).

const readLines = (path) => readFileSync(path, "utf8").split("\n").filter((l) => l.length > 0);

function defaultFor(type, forCedar) {
  switch (type) {
    case "string": return "";
    case "int": return forCedar ? 0 : 0n;
    case "uint": return forCedar ? 0 : 0n;
    case "double": return 0;
    case "bool": return false;
    case "list(string)": return [];
    case "timestamp": return "1970-01-01T00:00:00Z";
    default: return null;
  }
}

// Builds the nested input object for one transfer. CEL engines take ints as BigInt; Cedar takes Longs as
// JSON numbers and has no floating point or timestamp values, so those fields are left out for it.
function makeInput(schema, facts, forCedar) {
  const out = {};
  for (const [path, type] of Object.entries(schema)) {
    if (forCedar && (type === "double" || type === "timestamp")) continue;
    const parts = path.split(".");
    let given = facts;
    for (const part of parts) given = given === undefined ? undefined : given[part];
    let value = given === undefined ? defaultFor(type, forCedar) : given;
    if ((type === "int" || type === "uint") && !forCedar) value = BigInt(value);
    if (parts.length === 1) { out[path] = value; continue; }
    (out[parts[0]] ??= {})[parts[1]] = value;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// CEL: one compiled program per rule (and per policy `when`), combined as Airlock combines policies.

function celEngine(name, compile, convert = (input) => input) {
  return {
    name,
    prepare(spec) {
      const policies = spec.policies.map((p) => ({
        name: p.name,
        channels: new Set(p.channels),
        when: p.when === null ? null : compile(p.when),
        rules: p.rules.map((r) => ({ id: `${p.name}.${r.name}`, effect: r.effect, when: r.when === null ? null : compile(r.when) })),
        otherwise: { id: `${p.name}.otherwise`, effect: p.otherwise.effect },
      }));
      return (input) => combine(policies, input.channel, input.vars);
    },
    input(spec, facts) {
      const vars = makeInput(spec.schema, facts, false);
      return { channel: vars.transfer.channel, vars: convert(vars) };
    },
  };
}

// Airlock's combination (docs/language.md): deny overrides; any escalation or error escalates; approve
// when every applicable policy approved; no applicable policy escalates. `test` returns true, false or
// "error".
function combine(policies, channel, input) {
  let deny = false, escalate = false, applicable = 0;
  const rules = [];
  for (const policy of policies) {
    if (!policy.channels.has(channel)) continue;
    if (policy.when !== null) {
      const holds = policy.when(input);
      if (holds !== true) { if (holds !== false) escalate = true; continue; }
    }
    ++applicable;
    let matched = false;
    for (const rule of policy.rules) {
      const holds = rule.when === null ? true : rule.when(input);
      if (holds === true) {
        matched = true;
        rules.push(rule.id);
        if (rule.effect === "deny") deny = true; else if (rule.effect === "escalate") escalate = true;
      } else if (holds !== false) {
        escalate = true;
      }
    }
    if (!matched) {
      rules.push(policy.otherwise.id);
      if (policy.otherwise.effect === "deny") deny = true; else if (policy.otherwise.effect === "escalate") escalate = true;
    }
  }
  const outcome = deny ? "deny" : escalate || applicable === 0 ? "escalate" : "approve";
  return { outcome, rules };
}

const bufEnv = celEnv({ funcs: bufStrings });
const bufbuildCel = celEngine("bufbuild-cel", (text) => {
  const program = bufPlan(bufEnv, bufParse(text));
  return (input) => {
    const value = program(input);
    return isCelError(value) ? "error" : value === true ? true : value === false ? false : "error";
  };
}, toCelValues);

// @bufbuild/cel converts plain objects on every access; handing it its own map and list values (built
// before timing) is its fast path, about 5x faster on W2.
function toCelValues(input) {
  const out = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) { out[key] = value; continue; }
    out[key] = celMap(new Map(Object.entries(value).map(([k, v]) => [k, Array.isArray(v) ? celList(v) : v])));
  }
  return out;
}

const celJs = celEngine("cel-js", (text) => {
  const program = celJsParse(text);
  return (input) => {
    try {
      const value = program(input);
      return value === true ? true : value === false ? false : "error";
    } catch {
      return "error";
    }
  };
});

// ---------------------------------------------------------------------------------------------------
// Cedar: deny rules are `forbid`, approve and escalate rules `permit` (ids "policy.rule"). The outcome
// comes from the decision and its determining policies (valid for the W2 shape, see bench/README.md):
// deny with a reason → deny; deny without one → escalate (the channel's gate policy fell to its
// `otherwise`); allow → escalate if a determining permit is an escalate rule, else approve.

const principal = { type: "User", id: "requester" };
const action = { type: "Action", id: "transfer" };
const resource = { type: "File", id: "file" };
let cedarSets = 0;

const cedarWasm = {
  name: "cedar-wasm",
  supports: (spec) => spec.cedar.supported ? null : spec.cedar.note,
  prepare(spec) {
    const id = `set-${cedarSets++}`;
    const parsed = cedar.preparsePolicySet(id, { staticPolicies: spec.cedar.policies });
    if (parsed.type !== "success") throw new Error(`cedar: ${JSON.stringify(parsed.errors).slice(0, 2000)}`);
    const effects = new Map();
    for (const p of spec.policies) for (const r of p.rules) effects.set(`${p.name}.${r.name}`, r.effect);
    return (context) => {
      const answer = cedar.statefulIsAuthorized({ principal, action, resource, context, preparsedPolicySetId: id, entities: [] });
      if (answer.type !== "success") return { outcome: "error", rules: [] };
      const { decision, diagnostics } = answer.response;
      const rules = diagnostics.reason;
      if (diagnostics.errors.length > 0) return { outcome: "error", rules };
      if (decision === "deny") return { outcome: rules.length > 0 ? "deny" : "escalate", rules };
      return { outcome: rules.some((r) => effects.get(r) === "escalate") ? "escalate" : "approve", rules };
    };
  },
  // Only the fields the Cedar policies read: each call serialises the context into the wasm module.
  input(spec, facts) {
    const used = new Set(Object.values(spec.cedar.policies).flatMap((t) => [...t.matchAll(/context\.(\w+\.\w+)/g)].map((m) => m[1])));
    const schema = Object.fromEntries(Object.entries(spec.schema).filter(([path]) => used.has(path)));
    return makeInput(schema, facts, true);
  },
  // Airlock's matched rules as Cedar can report them: the forbids when denied, else the permits.
  expectedRules(spec, decision) {
    const effects = new Map();
    for (const p of spec.policies) for (const r of p.rules) effects.set(`${p.name}.${r.name}`, r.effect);
    const named = decision.rules.filter((r) => effects.has(r));
    return decision.outcome === "deny" ? named.filter((r) => effects.get(r) === "deny") : named;
  },
};

const engines = { "bufbuild-cel": bufbuildCel, "cel-js": celJs, "cedar-wasm": cedarWasm };

// ---------------------------------------------------------------------------------------------------
// Verify, then time.

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const sameRules = (a, b) => a.length === b.length && [...a].sort().every((r, i) => r === [...b].sort()[i]);

function runEngine(engine, spec, facts, decisions) {
  const unsupported = engine.supports ? engine.supports(spec) : null;
  if (unsupported) return { status: "unsupported", note: unsupported };
  const compileStart = process.hrtime.bigint();
  const decide = engine.prepare(spec);
  const compileMs = Number(process.hrtime.bigint() - compileStart) / 1e6;
  const inputs = facts.map((f) => engine.input(spec, f));

  // Every input, compared with Airlock's decision; this pass also warms the JIT. Slow engines stop after
  // --verify-seconds (and at least 100 transfers); only the verified prefix is then timed.
  const verifyStart = process.hrtime.bigint();
  const budget = BigInt(Math.round(args.verifySeconds * 1e9));
  let mismatches = 0, verified = 0;
  const examples = [];
  for (let i = 0; i < inputs.length; i++) {
    if (i >= 100 && process.hrtime.bigint() - verifyStart > budget) break;
    verified = i + 1;
    const got = decide(inputs[i]);
    const want = decisions[i];
    const wantRules = engine.expectedRules ? engine.expectedRules(spec, want) : want.rules;
    if (got.outcome !== want.outcome || !sameRules(got.rules, wantRules)) {
      if (++mismatches <= 3) examples.push({ transfer: i, airlock: { outcome: want.outcome, rules: wantRules }, got });
    }
  }
  const verifySeconds = Number(process.hrtime.bigint() - verifyStart) / 1e9;
  if (mismatches > 0) return { status: "mismatch", mismatches, examples, compileMs };

  // Timed runs over a prefix of the transfers sized to take about --run-seconds each.
  const perDecision = verifySeconds / verified;
  const count = Math.max(Math.min(50, verified), Math.min(verified, Math.round(args.runSeconds / Math.max(perDecision, 1e-9))));
  const samples = [];
  let sink = 0;
  for (let run = 0; run < args.runs; run++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) sink += decide(inputs[i]).rules.length;
    samples.push(Number(process.hrtime.bigint() - start) / count);
  }
  if (sink < 0) console.log(sink);  // keeps the results alive
  return { status: "ok", verified, nsPerDecision: median(samples), samples, decisionsPerRun: count, compileMs };
}

const workloadNames = ["W2-10", "W2-100", "W2-1000", "W2-10000", "W3"].filter((w) => !args.only || args.only.includes(w));
const results = [];
for (const workload of workloadNames) {
  const dir = join(args.workloads, workload);
  if (!existsSync(join(dir, "spec.json"))) { console.error(`run.mjs: ${dir}/spec.json is missing`); process.exit(1); }
  const spec = JSON.parse(readFileSync(join(dir, "spec.json"), "utf8"));
  const facts = readLines(join(dir, "facts.jsonl")).map((l) => JSON.parse(l));
  const decisions = readLines(join(dir, "decisions.jsonl")).map((l) => JSON.parse(l));
  for (const name of args.engines) {
    const engine = engines[name];
    if (!engine) { console.error(`run.mjs: unknown engine ${name}`); process.exit(2); }
    let result;
    try {
      result = runEngine(engine, spec, facts, decisions);
    } catch (error) {
      result = { status: "failed", note: String(error.message ?? error).slice(0, 500) };
    }
    results.push({ workload, engine: name, ...result });
    const line = result.status === "ok"
      ? `${result.nsPerDecision.toFixed(0).padStart(12)} ns/decision  (verified ${result.verified}, compile ${result.compileMs.toFixed(0)} ms)`
      : `${result.status}: ${result.note ?? `${result.mismatches} transfers differ, e.g. ${JSON.stringify(result.examples[0])}`}`;
    console.log(`${workload.padEnd(9)} ${name.padEnd(13)} ${line}`);
  }
}
if (args.json) writeFileSync(args.json, JSON.stringify({ versions: versions(), results }, null, 2));
if (results.some((r) => r.status === "mismatch" || r.status === "failed")) process.exitCode = 1;

function versions() {
  const lock = JSON.parse(readFileSync(new URL("./package-lock.json", import.meta.url), "utf8"));
  const pick = (p) => lock.packages[`node_modules/${p}`]?.version;
  return { node: process.version, "@bufbuild/cel": pick("@bufbuild/cel"), "@marcbachmann/cel-js": pick("@marcbachmann/cel-js"),
    "@cedar-policy/cedar-wasm": pick("@cedar-policy/cedar-wasm") };
}
