// The REST reads, one per view, from /api/triage/ (and a job's events): each fills the state.
import { get, NotFound } from "./api.js";
import { iso, searchScope, state } from "./state.js";

const RUNS_PAGE = 100;
const EVENTS_PAGE = 50;
const LIST_PAGE = 50; // failures and search results

// The pages of runs shown so far ("Older runs" adds one), newest first.
export async function loadRuns(first = 1) {
  const runs = first === 1 ? new Map() : state.runs;
  const { since, until, run_status } = state.sel;
  for (let p = first; p <= state.runPages; p++) {
    const body = await get("api/triage/runs/", { page: p, page_size: RUNS_PAGE, since: iso(since), until: iso(until), run_status });
    for (const run of body.runs) runs.set(run.run_uuid, run);
    state.total = body.total;
  }
  state.runs = runs;
}

// The open run and its jobs, with their reports and last messages: one request.
export async function loadRun() {
  state.jobs = new Map();
  state.jobsTotal = 0;
  state.openRun = null;
  const { run } = state.sel;
  if (!run) return;
  let body;
  try {
    body = await get(`api/triage/runs/${encodeURIComponent(run)}`);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    return; // deleted, or never was: the title says which run the URL named
  }
  // The same record in the list (when it shows the run), so that messages move both.
  if (state.runs.has(run)) state.runs.set(run, body.run);
  state.openRun = body.run;
  for (const job of body.jobs) {
    state.jobs.set(job.job_uuid, job);
    state.known.set(job.job_uuid, { run: job.run_uuid, status: job.job_status });
  }
  state.jobsTotal = body.total;
}

export async function loadEvents(before) {
  const { job } = state.sel;
  if (!job) return (state.events = [], state.next = null);
  const body = await get("api/events/", { job_uuid: job, limit: EVENTS_PAGE, before });
  state.events = before ? state.events.concat(body.events) : body.events;
  state.next = body.next;
}

export async function loadFailures(before) {
  const limit = before ? LIST_PAGE : Math.max(LIST_PAGE, state.failures.length);
  const body = await get("api/triage/failures/", { limit, before });
  state.failures = before ? state.failures.concat(body.failures) : body.failures;
  state.failuresNext = body.next;
}

export async function loadResults(before) {
  if (!state.sel.q.trim()) return (state.results = [], state.resultsNext = null);
  const body = await get("api/triage/search/", { q: state.sel.q, limit: LIST_PAGE, before, ...searchScope() });
  state.results = before ? state.results.concat(body.events) : body.events;
  state.resultsNext = body.next;
}

export async function loadView() {
  const { view } = state.sel;
  if (view === "failures") return loadFailures();
  if (view === "search") return loadResults();
  await loadRun();
  await loadEvents();
}
