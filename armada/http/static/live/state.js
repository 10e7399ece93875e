// What the page holds and where it is: its state, and the URL's hash, which keeps the view,
// the selection, the filters and the orders (every view has a URL).
import { runStatus } from "./view.js";

const KEYS = ["view", "run", "job", "run_status", "since", "until", "status", "agent", "sort",
  "order", "follow", "q", "in"];

export const $ = (id) => document.getElementById(id);
export const state = {
  runs: new Map(), total: 0, runPages: 1,
  jobs: new Map(), jobsTotal: 0, // the open run's jobs (all of them, filters apply when drawn)
  known: new Map(), // job_uuid -> {run, status}: every job seen, to move its run's counts
  events: [], next: null,
  failures: [], failuresNext: null,
  results: [], resultsNext: null,
  sel: {}, loading: 0, queue: [],
};
// What tests and the curious read: render times, messages applied, indicator states.
export const page = (globalThis.armada = { renderMs: [], runRenderMs: [], applied: 0, states: [] });

export function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return Object.fromEntries(KEYS.map((name) => [name, params.get(name) || ""]));
}

export function hashFor(change) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.sel, ...change })) {
    if (value) params.set(name, value);
  }
  return `#${params}`;
}

export const runHref = (run) => hashFor({ view: "", run, job: "" });
export const jobHref = (job, run) => hashFor({ view: "", run, job });
export const iso = (local) => (local ? new Date(local).toISOString() : "");
export const countKey = (status) => `jobs_${status.toLowerCase()}`;

export function jobShown(job) {
  const { status, agent } = state.sel;
  const text = agent.toLowerCase();
  return (!status || job.job_status === status) && (!text
    || job.job_associated_agent.toLowerCase().includes(text) || job.job_uuid.toLowerCase().includes(text));
}

export function runShown(run) {
  const { since, until, run_status: status } = state.sel;
  const t = Date.parse(run.run_datetime);
  return (!since || t >= Date.parse(iso(since))) && (!until || t < Date.parse(iso(until)))
    && (!status || runStatus(run) === status);
}

export function searchScope() {
  const { in: scope, run, job } = state.sel;
  if (scope === "job" && job) return { job_uuid: job };
  if (scope === "run" && run) return { run_uuid: run };
  return {};
}
