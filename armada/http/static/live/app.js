// The live page: state, the URL (its hash keeps the selection and filters), REST loads and
// the messages of the stream applied to what is shown.
import { get, token, Unauthorized } from "./api.js";
import { Stream } from "./stream.js";
import { eventRow, jobRow, runDuration, runRow, timeline, when } from "./view.js";

const RUNS_PAGE = 100;
const JOBS_PAGE = 100;
const JOB_PAGES = 10;
const EVENTS_PAGE = 50;
const PARALLEL = 6;
// The last report of a run's first jobs is read when it is opened (one event each); later
// jobs start from their own datetime and follow the stream.
const LAST_REPORTS = 200;
// A reload during which messages came is done again (they may predate what it read).
const RELOADS = 3;

const $ = (id) => document.getElementById(id);
const state = {
  runs: new Map(), total: 0, runPages: 1,
  jobs: new Map(), // the selected run's jobs, as filtered
  known: new Map(), // job_uuid -> {run, status}: every job seen, to move its run's counts
  events: [], next: null,
  sel: {}, loading: false, queue: [],
};
// What tests and the curious read: render times, messages applied, indicator states.
const page = (globalThis.armada = { renderMs: [], applied: 0, states: [] });

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return Object.fromEntries(["run", "job", "status", "agent", "since", "until"]
    .map((name) => [name, params.get(name) || ""]));
}

function hashFor(change) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.sel, ...change })) {
    if (value) params.set(name, value);
  }
  return `#${params}`;
}

const iso = (local) => (local ? new Date(local).toISOString() : "");
const countKey = (status) => `jobs_${status.toLowerCase()}`;
const later = (a, b) => (!a || (b && Date.parse(b) > Date.parse(a)) ? b : a);

function jobShown(job) {
  const { status, agent } = state.sel;
  return (!status || job.job_status === status) && (!agent || job.job_associated_agent === agent);
}

function runShown(run) {
  const { since, until } = state.sel;
  const t = Date.parse(run.run_datetime);
  return (!since || t >= Date.parse(iso(since))) && (!until || t < Date.parse(iso(until)));
}

// ---- rendering

function renderRuns() {
  const started = performance.now();
  const now = Date.now();
  const rows = [...state.runs.values()].map((run) =>
    runRow(run, run.run_uuid === state.sel.run, hashFor({ run: run.run_uuid, job: "" }), now));
  $("run-list").replaceChildren(...rows);
  $("runs-total").textContent = `${state.total}`;
  $("older-runs").hidden = state.runs.size >= state.total;
  void $("run-list").offsetHeight; // the layout counts too: measured, it is not deferred
  page.renderMs.push(performance.now() - started);
}

function renderRun(id) {
  const run = state.runs.get(id);
  if (!run) return;
  const row = document.querySelector(`#run-list li[data-run="${CSS.escape(run.run_uuid)}"]`);
  if (row) row.replaceWith(runRow(run, run.run_uuid === state.sel.run, hashFor({ run: run.run_uuid, job: "" }), Date.now()));
}

function renderJobs() {
  const { run, job } = state.sel;
  $("run").hidden = !run;
  if (!run) return;
  const summary = state.runs.get(run);
  $("run-title").textContent = `Run ${run}${summary ? ` · ${when(summary.run_datetime)}` : ""}`;
  const jobs = [...state.jobs.values()];
  $("job-list").replaceChildren(...jobs.map((j) =>
    jobRow(j, j.job_uuid === job, hashFor({ job: j.job_uuid }))));
  timeline($("timeline"), jobs.slice().reverse());
}

function renderEvents() {
  const { job } = state.sel;
  $("job").hidden = !job;
  if (!job) return;
  const known = state.jobs.get(job);
  $("job-title").textContent = `Job ${known ? known.job_associated_agent : ""} ${job}`;
  $("event-list").replaceChildren(...state.events.map(eventRow));
  $("more").hidden = !state.next;
}

page.renderRuns = renderRuns;

function renderAll() {
  renderRuns();
  renderJobs();
  renderEvents();
}

// ---- loading over REST

// The pages of runs shown so far ("Older runs" adds one), newest first.
async function loadRuns(first = 1) {
  const runs = first === 1 ? new Map() : state.runs;
  for (let p = first; p <= state.runPages; p++) {
    const body = await get("api/runs/", { page: p, page_size: RUNS_PAGE, since: iso(state.sel.since), until: iso(state.sel.until) });
    for (const run of body.runs) runs.set(run.run_uuid, { ...run, last: state.runs.get(run.run_uuid)?.last });
    state.total = body.total;
  }
  state.runs = runs;
}

async function inParallel(items, work) {
  const queue = items.slice();
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (queue.length) await work(queue.shift());
  }));
}

async function loadJobs() {
  state.jobs = new Map();
  const { run, status, agent } = state.sel;
  if (!run) return;
  for (let p = 1; p <= JOB_PAGES; p++) {
    const body = await get("api/jobs/", { run_uuid: run, page: p, page_size: JOBS_PAGE, status, agent });
    for (const job of body.jobs) {
      state.jobs.set(job.job_uuid, { ...job, last: job.job_datetime });
      state.known.set(job.job_uuid, { run: job.run_uuid, status: job.job_status });
    }
    if (p * JOBS_PAGE >= body.total) break;
  }
  // The last report of each job: its newest event, else its own datetime.
  await inParallel([...state.jobs.values()].slice(0, LAST_REPORTS), async (job) => {
    const body = await get("api/events/", { job_uuid: job.job_uuid, limit: 1 });
    if (body.events.length) job.last = later(job.last, body.events[0].event_datetime);
  });
  const summary = state.runs.get(run);
  if (summary) for (const job of state.jobs.values()) summary.last = later(summary.last, job.last);
}

async function loadEvents(before) {
  const { job } = state.sel;
  if (!job) return (state.events = [], state.next = null);
  const body = await get("api/events/", { job_uuid: job, limit: EVENTS_PAGE, before });
  state.events = before ? state.events.concat(body.events) : body.events;
  state.next = body.next;
}

// Reload what is shown; messages arriving meanwhile wait, then apply (and reload again).
async function reload() {
  if (state.loading) return (state.again = true);
  state.loading = true;
  try {
    for (let round = 0; round < RELOADS; round++) {
      state.again = false;
      state.queue = [];
      // Statuses known from before may be stale now: a job not reloaded is read when it changes.
      state.known = new Map();
      await loadRuns();
      await loadJobs();
      await loadEvents();
      const waiting = state.queue;
      state.queue = [];
      if (!waiting.length && !state.again) break;
      if (round === RELOADS - 1) waiting.forEach(apply);
    }
    renderAll();
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
    else console.error(error);
  } finally {
    state.loading = false;
  }
}

// ---- live messages

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

function receive(message) {
  if (state.loading) state.queue.push(message);
  else apply(message);
}

async function refreshRunOf(jobUuid) {
  try {
    const job = await get(`api/jobs/${encodeURIComponent(jobUuid)}`);
    state.known.set(job.job_uuid, { run: job.run_uuid, status: job.job_status });
    if (!state.runs.has(job.run_uuid)) return;
    const run = await get(`api/runs/${encodeURIComponent(job.run_uuid)}`);
    run.last = state.runs.get(job.run_uuid)?.last;
    state.runs.set(run.run_uuid, run);
    renderRun(run.run_uuid);
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
  }
}

function apply({ type, data }) {
  page.applied++;
  const { sel } = state;
  if (type === "new_run") {
    if (state.runs.has(data.run_uuid) || !runShown(data)) return;
    const run = { ...data, jobs_total: 0 };
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
      run.last = later(run.last, data.job_datetime);
      redraw(`run ${run.run_uuid}`, () => renderRun(run.run_uuid));
    }
    if (data.run_uuid === sel.run && jobShown(data)) {
      state.jobs = new Map([[data.job_uuid, { ...data, last: data.job_datetime }], ...state.jobs]);
      redraw("jobs", renderJobs);
    }
  } else if (type === "update_job_status") {
    const known = state.known.get(data.job_uuid);
    if (!known) return void refreshRunOf(data.job_uuid);
    const run = state.runs.get(known.run);
    if (run && known.status !== data.job_status) {
      run[countKey(known.status)] = Math.max(0, (run[countKey(known.status)] || 0) - 1);
      run[countKey(data.job_status)] = (run[countKey(data.job_status)] || 0) + 1;
      redraw(`run ${run.run_uuid}`, () => renderRun(run.run_uuid));
    }
    known.status = data.job_status;
    const job = state.jobs.get(data.job_uuid);
    if (job) {
      job.job_status = data.job_status;
      if (!jobShown(job)) state.jobs.delete(job.job_uuid);
      redraw("jobs", renderJobs);
    } else if (known.run === sel.run && sel.status === data.job_status) {
      reload();
    }
  } else if (type === "new_event") {
    const known = state.known.get(data.job_uuid);
    const run = known && state.runs.get(known.run);
    if (run) run.last = later(run.last, data.event_datetime);
    const job = state.jobs.get(data.job_uuid);
    if (job) {
      job.last = later(job.last, data.event_datetime);
      redraw("jobs", renderJobs);
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
    if (sel.run === data.run_uuid) location.hash = hashFor({ run: "", job: "" });
    redraw("runs", renderRuns);
  }
}

// ---- the indicator, the token form, the filters, the clock

function showState(name) {
  const live = $("live");
  page.states.push(name);
  live.dataset.state = name;
  live.textContent = name;
}

function askToken() {
  const form = $("token");
  if (!form.hidden) return;
  form.querySelector(".hint").textContent = token.get()
    ? "that token was refused: another one?" : "kept for this tab only";
  form.hidden = false;
  form.elements.token.focus();
}

$("token").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  token.set(form.elements.token.value.trim());
  form.reset();
  form.hidden = true;
  stream.open();
  reload();
});

const filters = $("filters");
function fillFilters() {
  for (const name of ["status", "agent", "since", "until"]) filters.elements[name].value = state.sel[name];
}
filters.addEventListener("change", () => {
  const change = {};
  for (const name of ["status", "agent", "since", "until"]) change[name] = filters.elements[name].value;
  location.hash = hashFor(change);
});
filters.addEventListener("submit", (event) => event.preventDefault());
filters.addEventListener("reset", () => setTimeout(() => filters.dispatchEvent(new Event("change"))));

$("older-runs").addEventListener("click", async () => {
  state.runPages++;
  try {
    await loadRuns(state.runPages);
    renderRuns();
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
  }
});

$("more").addEventListener("click", async () => {
  try {
    await loadEvents(state.next);
    renderEvents();
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
  }
});

window.addEventListener("hashchange", async () => {
  const before = state.sel;
  state.sel = readHash();
  fillFilters();
  const sel = state.sel;
  if (sel.since !== before.since || sel.until !== before.until || sel.status !== before.status || sel.agent !== before.agent) return reload();
  try {
    if (sel.run !== before.run) {
      state.events = [];
      state.next = null;
      renderRuns();
      await loadJobs();
      renderJobs();
    }
    if (sel.job !== before.job || sel.run !== before.run) {
      renderJobs();
      await loadEvents();
      renderEvents();
    }
  } catch (error) {
    if (error instanceof Unauthorized) askToken();
  }
});

// Durations of active runs tick once a second (their text only).
setInterval(() => {
  const now = Date.now();
  for (const row of document.querySelectorAll("#run-list li")) {
    const run = state.runs.get(row.dataset.run);
    if (run) row.querySelector(".duration").textContent = runDuration(run, now);
  }
}, 1000);

const stream = new Stream({ onMessage: receive, onResync: reload, onState: showState });
state.sel = readHash();
fillFilters();
stream.open();
reload();
