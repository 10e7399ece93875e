// The stream's messages applied to what is shown, and the reads that messages wait for.
import { get, NotFound } from "./api.js";
import { loadFailures, loadRuns, loadView } from "./load.js";
import {
  failing, renderAll, renderEvents, renderFailures, renderJobRow, renderJobs, renderRun,
  renderRuns, renderTimeline,
} from "./render.js";
import { countKey, hashFor, page, runShown, state } from "./state.js";
import { FAILED, firstLine, later } from "./view.js";

// A reload during which messages came is done again (they may predate what it read).
const RELOADS = 3;
// A burst of messages about one run (a job Lost, then its event) reads that run once.
const REFRESH_MS = 300;

// Messages arriving during a read wait, then apply: what the read saw is known by then.
export async function loading(work) {
  state.loading++;
  try {
    await work();
  } catch (error) {
    failing(error);
  } finally {
    loaded();
  }
}

function loaded() {
  if (--state.loading) return;
  const waiting = state.queue;
  state.queue = [];
  waiting.forEach(apply);
}

// Reload what is shown; done again when messages came meanwhile (they may predate the read).
export async function reload() {
  if (state.reloading) return (state.again = true);
  state.reloading = true;
  state.loading++;
  try {
    for (let round = 0; round < RELOADS; round++) {
      state.again = false;
      state.queue = [];
      // Statuses known from before may be stale now: a job not reloaded is read when it changes.
      state.known = new Map();
      await loadRuns();
      await loadView();
      if (!state.queue.length && !state.again) break;
    }
    renderAll();
  } catch (error) {
    failing(error);
  } finally {
    state.reloading = false;
    loaded();
  }
}

// A burst of messages redraws each part once per frame, not once per message.
const pending = new Map();
function redraw(key, draw) {
  if (!pending.size) requestAnimationFrame(() => {
    const draws = [...pending.values()];
    pending.clear();
    for (const fn of draws) fn();
  });
  pending.set(key, draw);
}

// Once per burst, after REFRESH_MS: the work of `key` (a run read again, the failures).
const timers = new Map();
function soon(key, work) {
  if (timers.has(key)) return;
  timers.set(key, setTimeout(() => {
    timers.delete(key);
    loading(work);
  }, REFRESH_MS));
}

// A run's counts, status and newest failure, read again (the run alone: no jobs).
function refreshRun(id) {
  if (!state.runs.has(id)) return;
  soon(`run ${id}`, async () => {
    if (!state.runs.has(id)) return; // deleted meanwhile
    let body;
    try {
      body = await get(`api/triage/runs/${encodeURIComponent(id)}`, { page_size: 0 });
    } catch (error) {
      if (!(error instanceof NotFound)) throw error;
      return; // deleted meanwhile: its delete_run message takes it away
    }
    if (!state.runs.has(id)) return;
    state.runs.set(id, body.run);
    redraw(`run ${id}`, () => renderRun(id));
  });
}

function refreshFailures() {
  if (state.sel.view !== "failures") return;
  soon("failures", async () => {
    await loadFailures();
    redraw("failures", renderFailures);
  });
}

export function receive(message) {
  if (state.loading) state.queue.push(message);
  else apply(message);
}

async function learnJob(jobUuid) {
  let job;
  try {
    job = await get(`api/jobs/${encodeURIComponent(jobUuid)}`);
  } catch (error) {
    if (!(error instanceof NotFound)) throw error;
    return; // deleted meanwhile, with its run
  }
  state.known.set(job.job_uuid, { run: job.run_uuid, status: job.job_status });
  refreshRun(job.run_uuid);
}

function apply({ type, data }) {
  page.applied++;
  const { sel } = state;
  if (type === "new_run") {
    const run = { ...data, jobs_total: 0, last_report_datetime: data.run_datetime };
    if (state.runs.has(data.run_uuid) || !runShown(run)) return;
    const runs = [...state.runs.values(), run]
      .sort((a, b) => Date.parse(b.run_datetime) - Date.parse(a.run_datetime));
    state.runs = new Map(runs.map((r) => [r.run_uuid, r]));
    state.total++;
    redraw("runs", renderRuns);
  } else if (type === "new_job") {
    if (state.known.has(data.job_uuid)) return;
    state.known.set(data.job_uuid, { run: data.run_uuid, status: data.job_status });
    const run = state.runs.get(data.run_uuid);
    if (run) {
      run.jobs_total = (run.jobs_total || 0) + 1;
      run[countKey(data.job_status)] = (run[countKey(data.job_status)] || 0) + 1;
      run.last_report_datetime = later(run.last_report_datetime, data.job_datetime);
      redraw(`run ${run.run_uuid}`, () => renderRun(run.run_uuid));
      if (FAILED.has(data.job_status)) refreshRun(run.run_uuid);
    }
    if (data.run_uuid === sel.run) {
      state.jobs = new Map([[data.job_uuid, { ...data, first_report_datetime: data.job_datetime,
        last_report_datetime: data.job_datetime, last_message: null, failure: null }], ...state.jobs]);
      state.jobsTotal++;
      redraw("jobs", renderJobs);
    }
    if (FAILED.has(data.job_status)) refreshFailures();
  } else if (type === "update_job_status") {
    const known = state.known.get(data.job_uuid);
    if (FAILED.has(data.job_status) || (known && FAILED.has(known.status))) refreshFailures();
    if (!known) return void learnJob(data.job_uuid).catch(failing);
    const run = state.runs.get(known.run);
    if (run && known.status !== data.job_status) {
      run[countKey(known.status)] = Math.max(0, (run[countKey(known.status)] || 0) - 1);
      run[countKey(data.job_status)] = (run[countKey(data.job_status)] || 0) + 1;
      redraw(`run ${run.run_uuid}`, () => renderRun(run.run_uuid));
      // Its newest failure may be another now: the server knows which.
      if (FAILED.has(data.job_status) || FAILED.has(known.status)) refreshRun(run.run_uuid);
    }
    known.status = data.job_status;
    const job = state.jobs.get(data.job_uuid);
    if (job) {
      job.job_status = data.job_status;
      job.failure = FAILED.has(job.job_status) ? job.failedLine || job.failure || job.last_message : null;
      redraw("jobs", renderJobs);
      if (data.job_uuid === sel.job) redraw("events", renderEvents);
    }
  } else if (type === "new_event") {
    const known = state.known.get(data.job_uuid);
    const run = known && state.runs.get(known.run);
    if (run) {
      run.last_report_datetime = later(run.last_report_datetime, data.event_datetime);
      if (FAILED.has(known.status)) refreshRun(run.run_uuid);
    }
    if (known && FAILED.has(known.status)) refreshFailures();
    const job = state.jobs.get(data.job_uuid);
    if (job) {
      if (later(job.last_report_datetime, data.event_datetime) === data.event_datetime) {
        job.last_report_datetime = data.event_datetime;
        job.last_message = firstLine(data.event_content);
        if (data.event_status === "Failed") job.failedLine = job.last_message;
        if (FAILED.has(job.job_status)) job.failure = job.failedLine || job.last_message;
      }
      redraw(`job ${job.job_uuid}`, () => renderJobRow(job.job_uuid));
      redraw("timeline", renderTimeline);
    }
    if (data.job_uuid === sel.job && !state.events.some((e) => e.event_uuid === data.event_uuid)) {
      state.events = [data, ...state.events]
        .sort((a, b) => Date.parse(b.event_datetime) - Date.parse(a.event_datetime));
      redraw("events", renderEvents);
    }
  } else if (type === "update_event_status") {
    const event = state.events.find((e) => e.event_uuid === data.event_uuid);
    if (event) {
      event.event_status = data.event_status;
      redraw("events", renderEvents);
    }
  } else if (type === "delete_run") {
    if (state.runs.delete(data.run_uuid)) state.total = Math.max(0, state.total - 1);
    state.failures = state.failures.filter((f) => f.run_uuid !== data.run_uuid);
    if (sel.run === data.run_uuid) location.hash = hashFor({ run: "", job: "" });
    redraw("runs", renderRuns);
    redraw("failures", renderFailures);
  }
}
