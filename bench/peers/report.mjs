// Combines Airlock's Google Benchmark JSON and run.mjs's results into one table with ratios.
//   node report.mjs AIRLOCK.json PEERS.json
import { readFileSync } from "node:fs";

const [airlockPath, peersPath] = process.argv.slice(2);
if (!airlockPath || !peersPath) { console.error("usage: node report.mjs AIRLOCK.json PEERS.json"); process.exit(2); }
const airlock = JSON.parse(readFileSync(airlockPath, "utf8"));
const peers = JSON.parse(readFileSync(peersPath, "utf8"));

// Airlock: the median aggregate (or the single run) of <call>/<workload>/real_time/threads:1, in ns.
//   evaluate: the whole Decision (rules with their locations and reasons, the one-line reason): the ratio the
//             goals are judged on, which asks of Airlock more than the peers do;
//   outcome:  evaluate_outcome(), the outcome, the matched rules and the reviewers: what the peers compute
//             (outcome and matched rules), like for like. Shown when the run has it.
const scale = { ns: 1, us: 1e3, ms: 1e6, s: 1e9 };
const ours = new Map();
const outcomeOnly = new Map();
for (const b of airlock.benchmarks) {
  const m = /^(evaluate|outcome)\/([^/]+)\/real_time\/threads:1$/.exec(b.run_name ?? b.name);
  if (!m || (b.run_type === "aggregate" && b.aggregate_name !== "median")) continue;
  (m[1] === "evaluate" ? ours : outcomeOnly).set(m[2], b.real_time * scale[b.time_unit ?? "ns"]);
}

const engines = [...new Set(peers.results.map((r) => r.engine))];
const workloads = [...new Set(peers.results.map((r) => r.workload))];
const cell = (text, width) => String(text).padStart(width);
console.log(`peers: ${Object.entries(peers.versions).map(([k, v]) => `${k} ${v}`).join(", ")}`);
console.log(`ns per decision, one thread, medians; ratio = peer time / Airlock time\n`);
console.log(["workload".padEnd(9), cell("airlock", 10), ...engines.map((e) => cell(e, 14) + cell("ratio", 9))].join(" "));
const goals = [];
const likeForLike = [];
for (const w of workloads) {
  const base = ours.get(w);
  const row = [w.padEnd(9), cell(base ? base.toFixed(0) : "-", 10)];
  let fastestCel = Infinity;
  for (const e of engines) {
    const r = peers.results.find((x) => x.workload === w && x.engine === e);
    if (!r || r.status !== "ok") { row.push(cell(r ? r.status : "-", 14) + cell("", 9)); continue; }
    const ratio = base ? r.nsPerDecision / base : NaN;
    row.push(cell(r.nsPerDecision.toFixed(0), 14) + cell(`${ratio.toFixed(1)}x`, 9));
    if (e.includes("cel")) fastestCel = Math.min(fastestCel, r.nsPerDecision);
    if (e === "cedar-wasm" && base) goals.push([`${w}: >= 10x faster than cedar-wasm`, ratio >= 10, `${ratio.toFixed(1)}x`]);
  }
  if (base && fastestCel < Infinity) {
    const ratio = fastestCel / base;
    goals.push([`${w}: >= 30x faster than the fastest JS CEL engine`, ratio >= 30, `${ratio.toFixed(1)}x`]);
  }
  const outcome = outcomeOnly.get(w);
  if (outcome && fastestCel < Infinity) likeForLike.push([w, outcome, fastestCel / outcome]);
  console.log(row.join(" "));
}
if (likeForLike.length > 0) {
  console.log("\nLike for like: Airlock's evaluate_outcome (outcome, matched rules, reviewers), as the peers answer");
  for (const [w, ns, ratio] of likeForLike) {
    console.log(`  ${w.padEnd(9)} ${cell(ns.toFixed(0), 10)} ns   fastest JS CEL engine ${ratio.toFixed(1)}x slower`);
  }
}
console.log("\nGoals (judged on the whole Decision)");
for (const [what, met, detail] of goals) console.log(`  ${met ? "ok  " : "MISS"} ${what} (${detail})`);
const problems = peers.results.filter((r) => r.status !== "ok");
for (const p of problems) {
  console.log(`\n${p.workload} ${p.engine}: ${p.status}: ${p.note ?? `${p.mismatches} transfers differ from Airlock`}`);
  for (const e of p.examples ?? []) console.log(`  ${JSON.stringify(e)}`);
}
