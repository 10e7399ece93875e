// The live page: state, the URL (its hash keeps the view, the selection and the filters), the
// REST reads (one per view, from /api/triage/) and the messages of the stream applied to them.
import { get, NotFound, token, Unauthorized } from "./api.js";
import { Stream } from "./stream.js";
import {
  FAILED, el, eventRow, failureRow, firstLine, jobDuration, jobLabel, jobRow, later, resultRow,
  runDuration, runRow, runStatus, sortJobs, timeline, timeEl, zone,
} from "./view.js";

const RUNS_PAGE = 100;
const EVENTS_PAGE = 50;
const LIST_PAGE = 50; // failures and search results
// A reload during which messages came is done again (they may predate what it read).
const RELOADS = 3;
// A burst of messages about one run (a job Lost, then its event) reads that run once.
const REFRESH_MS = 300;
// At this width and wider, a job's events sit beside the run's jobs.
const BESIDE_PX = 1200;
const KEYS = ["view", "run", "job", "run_status", "since", "until", "status", "agent", "sort",
  "order", "follow", "q", "in"];

const $ = (id) => document.getElementById(id);
const state = {
  runs: new Map(), total: 0, runPages: 1,
  jobs: new Map(), jobsTotal: 0, // the open run's jobs (all of them, filters apply when drawn)
  known: new Map(), // job_uuid -> {run, status}: every job seen, to move its run's counts
  events: [], next: null,
  failures: [], failuresNext: null,
  results: [], resultsNext: null,
  sel: {}, loading: 0, queue: [],
};
// What tests and the curious read: render times, messages applied, indicator states.
const page = (globalThis.armada = { renderMs: [], runRenderMs: [], applied: 0, states: [] });

function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  return Object.fromEntries(KEYS.map((name) => [name, params.get(name) || ""]));
}

function hashFor(change) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries({ ...state.sel, ...change })) {
    if (value) params.set(name, value);
  }
  return `#${params}`;
}

const runHref = (run) => hashFor({ view: "", run, job: "" });
const jobHref = (job, run) => hashFor({ view: "", run, job });
const iso = (local) => (local ? new Date(local).toISOString() : "");
const countKey = (status) => `jobs_${status.toLowerCase()}`;

function jobShown(job) {
  const { status, agent } = state.sel;
  const text = agent.toLowerCase();
  return (!status || job.job_status === status) && (!text
    || job.job_associated_agent.toLowerCase().includes(text) || job.job_uuid.toLowerCase().includes(text));
}

function runShown(run) {
  const { since, until, run_status: status } = state.sel;
  const t = Date.parse(run.run_datetime);
  return (!since || t >= Date.parse(iso(since))) && (!until || t < Date.parse(iso(until)))
    && (!status || runStatus(run) === status);
}

function failing(error) {
  if (error instanceof Unauthorized) askToken();
  else console.error(error);
}

// ---- rendering

function renderRuns() {
  const started = performance.now();
  const now = Date.now();
  const rows = [...state.runs.values()].filter(runShown).map((run) => row(run, now));
  $("run-list").replaceChildren(...rows);
  $("runs-total").textContent = `${state.total}`;
  $("older-runs").hidden = state.runs.size >= state.total;
  void $("run-list").offsetHeight; // the layout counts too: measured, it is not deferred
  page.renderMs.push(performance.now() - started);
}

function row(run, now) {
  return runRow(run, run.run_uuid === state.sel.run && !state.sel.view, runHref(run.run_uuid),
    jobHref(run.failure_job_uuid, run.run_uuid), now);
}

function renderRun(id) {
  const run = state.runs.get(id);
  const old = document.querySelector(`#run-list li[data-run="${CSS.escape(id)}"]`);
  if (run && old) old.replaceWith(row(run, Date.now()));
  if (id === state.sel.run) renderRunTitle();
}

function renderView() {
  const { view, run, job } = state.sel;
  $("run").hidden = view !== "" || !run;
  $("job").hidden = view !== "" || !run || !job;
  $("failures").hidden = view !== "failures";
  $("results").hidden = view !== "search";
  $("main").className = !$("job").hidden ? "with-job" : "";
  $("to-runs").toggleAttribute("aria-current", view === "");
  $("to-failures").toggleAttribute("aria-current", view === "failures");
  const search = $("search").elements;
  search.in.options[1].disabled = !run;
  search.in.options[2].disabled = !job;
}

function renderRunTitle() {
  const run = state.runs.get(state.sel.run) || state.openRun;
  const title = $("run-title");
  title.replaceChildren(`Run ${state.sel.run}`);
  if (!run) return;
  const failed = run.jobs_failed + run.jobs_lost;
  const done = run.jobs_total - run.jobs_running - run.jobs_pending;
  const status = runStatus(run);
  const badge = el("span", `badge s-${status.toLowerCase()}`, status);
  title.append(" ", badge, el("span", "muted", ` ${done} of ${run.jobs_total} done`
    + `${failed ? ` · ${failed} failed or lost` : ""} · ${runDuration(run, Date.now())} · started `),
  timeEl(run.run_datetime));
}

function renderJobs() {
  const { run, job, sort } = state.sel;
  if (!run || state.sel.view) return;
  const started = performance.now();
  const now = Date.now();
  renderRunTitle();
  const jobs = sortJobs([...state.jobs.values()].filter(jobShown), sort === "failed");
  const rows = document.createDocumentFragment();
  for (const j of jobs) rows.append(jobRow(j, j.job_uuid === job, jobHref(j.job_uuid, run), now));
  $("job-list").replaceChildren(rows);
  $("no-jobs").hidden = jobs.length > 0 || !state.jobs.size;
  const loaded = state.jobs.size < state.jobsTotal ? ` (the newest ${state.jobs.size} of ${state.jobsTotal})` : "";
  $("jobs-shown").textContent = `${jobs.length} of ${state.jobs.size} jobs${loaded}`;
  timeline($("timeline"), jobs, (j) => jobHref(j.job_uuid, run), now);
  void $("job-list").offsetHeight;
  page.runRenderMs.push(performance.now() - started);
}

function renderEvents() {
  const { job, order, follow } = state.sel;
  if (!job || $("job").hidden) return;
  const known = state.jobs.get(job);
  const title = $("job-title");
  title.replaceChildren("Job ");
  if (known) {
    title.append(jobLabel(known), " ", el("span", `badge s-${known.job_status.toLowerCase()}`, known.job_status),
      el("span", "muted", ` ${jobDuration(known, Date.now())}`));
  } else title.append(job);
  const oldest = order === "oldest";
  const events = oldest ? state.events.slice().reverse() : state.events;
  const list = $("event-list");
  list.replaceChildren(...events.map(eventRow));
  $("more").hidden = !state.next || oldest;
  $("more-before").hidden = !state.next || !oldest;
  // Follow: the newest line stays in view, as `tail -f` keeps it.
  if (follow) list.scrollTop = oldest ? list.scrollHeight : 0;
}

function renderFailures() {
  if (state.sel.view !== "failures") return;
  $("failure-list").replaceChildren(...state.failures.map((f) =>
    failureRow(f, jobHref(f.job_uuid, f.run_uuid), runHref(f.run_uuid))));
  $("no-failures").hidden = state.failures.length > 0;
  $("older-failures").hidden = !state.failuresNext;
}

function renderResults() {
  const { view, q } = state.sel;
  if (view !== "search") return;
  const where = searchScope();
  $("results-title").textContent = `Events with “${q}”${where.job_uuid ? ` in job ${where.job_uuid}`
    : where.run_uuid ? ` in run ${where.run_uuid}` : ""}`;
  $("result-list").replaceChildren(...state.results.map((hit) =>
    resultRow(hit, jobHref(hit.job_uuid, hit.run_uuid), q.split(/\s+/))));
  $("no-results").hidden = state.results.length > 0;
  $("more-results").hidden = !state.resultsNext;
}

page.renderRuns = renderRuns;
page.renderJobs = renderJobs;

function renderAll() {
  $("zone").textContent = `Times: ${zone.label()}`;
  renderView();
  renderRuns();
  renderJobs();
  renderEvents();
  renderFailures();
  renderResults();
}

// ---- loading over REST: one read per view

// The pages of runs shown so far ("Older runs" adds one), newest first.
async function loadRuns(first = 1) {
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
async function loadRun() {
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

async function loadEvents(before) {
  const { job } = state.sel;
  if (!job) return (state.events = [], state.next = null);
  const body = await get("api/events/", { job_uuid: job, limit: EVENTS_PAGE, before });
  state.events = before ? state.events.concat(body.events) : body.events;
  state.next = body.next;
}

async function loadFailures(before) {
  const limit = before ? LIST_PAGE : Math.max(LIST_PAGE, state.failures.length);
  const body = await get("api/triage/failures/", { limit, before });
  state.failures = before ? state.failures.concat(body.failures) : body.failures;
  state.failuresNext = body.next;
}

function searchScope() {
  const { in: scope, run, job } = state.sel;
  if (scope === "job" && job) return { job_uuid: job };
  if (scope === "run" && run) return { run_uuid: run };
  return {};
}

async function loadResults(before) {
  if (!state.sel.q.trim()) return (state.results = [], state.resultsNext = null);
  const body = await get("api/triage/search/", { q: state.sel.q, limit: LIST_PAGE, before, ...searchScope() });
  state.results = before ? state.results.concat(body.events) : body.events;
  state.resultsNext = body.next;
}

async function loadView() {
  const { view } = state.sel;
  if (view === "failures") return loadFailures();
  if (view === "search") return loadResults();
  await loadRun();
  await loadEvents();
}

// Messages arriving during a read wait, then apply: what the read saw is known by then.
async function loading(work) {
  state.loading++;
  try {
    await work();
  } catch (error) {
    failing(error);
  } finally {
    if (--state.loading === 0) {
      const waiting = state.queue;
      state.queue = [];
      waiting.forEach(apply);
    }
  }
}

// Reload what is shown; done again when messages came meanwhile (they may predate the read).
async function reload() {
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
    if (--state.loading === 0) {
      const waiting = state.queue;
      state.queue = [];
      waiting.forEach(apply);
    }
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

function receive(message) {
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
    state.failures = state.failures.filter((f) => f.run_uuid !== data.run_uuid);
    if (sel.run === data.run_uuid) location.hash = hashFor({ run: "", job: "" });
    redraw("runs", renderRuns);
    redraw("failures", renderFailures);
  }
}

// ---- the indicator, the token form, the forms, the clock

function showState(name) {
  // While the token is asked for, the stream cannot connect: say why, not "reconnecting".
  const shown = $("token").hidden ? name : "needs token";
  const live = $("live");
  page.states.push(shown);
  live.dataset.state = shown;
  live.textContent = shown;
}

function askToken() {
  const form = $("token");
  if (!form.hidden) return;
  form.querySelector(".hint").textContent = token.get()
    ? "that token was refused: another one?" : "kept for this tab only";
  form.hidden = false;
  showState("needs token");
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

// Each form writes its fields into the URL; the hash change does the rest.
const forms = { filters: ["run_status", "since", "until"], "job-filters": ["status", "agent", "sort"], "event-tools": ["order", "follow"] };
function fillForms() {
  for (const [id, names] of Object.entries(forms)) {
    for (const name of names) {
      const field = $(id).elements[name];
      if (field.type === "checkbox") field.checked = Boolean(state.sel[name]);
      else field.value = state.sel[name];
    }
  }
  $("search").elements.q.value = state.sel.q;
  $("search").elements.in.value = state.sel.in;
}
for (const [id, names] of Object.entries(forms)) {
  const form = $(id);
  form.addEventListener("change", () => {
    const change = {};
    for (const name of names) {
      const field = form.elements[name];
      change[name] = field.type === "checkbox" ? (field.checked ? field.value : "") : field.value;
    }
    location.hash = hashFor(change);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
}
$("filters").addEventListener("reset", () => setTimeout(() => $("filters").dispatchEvent(new Event("change"))));
$("job-filters").elements.agent.addEventListener("input", (event) => {
  state.sel.agent = event.target.value; // narrows as one types; the URL follows on change
  renderJobs();
});

$("search").addEventListener("submit", (event) => {
  event.preventDefault();
  const fields = event.currentTarget.elements;
  const q = fields.q.value.trim();
  if (q) location.hash = hashFor({ view: "search", q, in: fields.in.value });
});

$("zone").addEventListener("click", () => {
  zone.toggle();
  renderAll();
});

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && state.sel.job && !event.target.closest("input, select")) {
    location.hash = hashFor({ job: "" });
  }
});
$("close-job").addEventListener("click", (event) => {
  event.preventDefault();
  location.hash = hashFor({ job: "" });
});

async function more(button, work, draw) {
  button.disabled = true;
  await loading(async () => {
    await work();
    draw();
  });
  button.disabled = false;
}
$("older-runs").addEventListener("click", (event) => more(event.target, () => loadRuns(++state.runPages), renderRuns));
$("more").addEventListener("click", (event) => more(event.target, () => loadEvents(state.next), renderEvents));
$("more-before").addEventListener("click", (event) => more(event.target, () => loadEvents(state.next), renderEvents));
$("older-failures").addEventListener("click", (event) => more(event.target, () => loadFailures(state.failuresNext), renderFailures));
$("more-results").addEventListener("click", (event) => more(event.target, () => loadResults(state.resultsNext), renderResults));

function showJob() {
  // Where the eye is: beside the jobs on a wide screen, else scrolled to.
  if (window.innerWidth < BESIDE_PX) $("job").scrollIntoView({ block: "start" });
}

window.addEventListener("hashchange", () => loading(async () => {
  const before = state.sel;
  const sel = (state.sel = readHash());
  fillForms();
  const changed = (...names) => names.some((name) => sel[name] !== before[name]);
  renderView();
  if (changed("since", "until", "run_status")) {
    state.runPages = 1;
    await loadRuns();
  }
  renderRuns();
  if (sel.view === "failures") {
    if (changed("view")) await loadFailures();
    return renderFailures();
  }
  if (sel.view === "search") {
    if (changed("view", "q", "in", "run", "job")) await loadResults();
    return renderResults();
  }
  if (changed("run", "view")) {
    state.events = [];
    state.next = null;
    await loadRun();
    renderRun(sel.run);
  }
  renderJobs();
  if (changed("job", "run", "view")) await loadEvents();
  renderEvents();
  if (sel.job && changed("job")) showJob();
}));

// Durations of what is still running tick once a second (their text only).
setInterval(() => {
  const now = Date.now();
  for (const li of document.querySelectorAll('#run-list li[data-status="Running"]')) {
    const run = state.runs.get(li.dataset.run);
    if (run) li.querySelector(".duration").textContent = runDuration(run, now);
  }
  for (const row of document.querySelectorAll('#job-list .job[data-status="Running"]')) {
    const job = state.jobs.get(row.dataset.job);
    if (job) row.querySelector(".duration").textContent = jobDuration(job, now);
  }
}, 1000);

const stream = new Stream({ onMessage: receive, onResync: reload, onState: showState });
state.sel = readHash();
fillForms();
renderView();
stream.open();
reload().then(() => state.sel.job && showJob());
