// What is shown: each part of the page drawn from the state (view.js builds the elements),
// the live indicator and the token form.
import { token, Unauthorized } from "./api.js";
import { $, jobHref, jobShown, page, runHref, runShown, searchScope, state } from "./state.js";
import {
  el, eventRow, failureRow, jobDuration, jobLabel, jobRow, resultRow, runDuration, runRow,
  runStatus, sortJobs, timeline, timeEl, zone,
} from "./view.js";

export function renderRuns() {
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

export function renderRun(id) {
  const run = state.runs.get(id);
  const old = document.querySelector(`#run-list li[data-run="${CSS.escape(id)}"]`);
  if (run && old) old.replaceWith(row(run, Date.now()));
  if (id === state.sel.run) renderRunTitle();
}

export function renderView() {
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

export function renderRunTitle() {
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

const shownJobs = () => sortJobs([...state.jobs.values()].filter(jobShown), state.sel.sort === "failed");
const runOpen = () => state.sel.run && !state.sel.view;

export function renderJobs() {
  const { run, job } = state.sel;
  if (!runOpen()) return;
  const started = performance.now();
  const now = Date.now();
  renderRunTitle();
  const jobs = shownJobs();
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

// An event of a job changes its row and its bar only: a busy 1,000-job run is not redrawn whole.
export function renderJobRow(id) {
  const job = state.jobs.get(id);
  const old = document.querySelector(`#job-list .job[data-job="${CSS.escape(id)}"]`);
  if (runOpen() && job && old) old.replaceWith(jobRow(job, id === state.sel.job, jobHref(id, state.sel.run), Date.now()));
}

export function renderTimeline() {
  if (runOpen()) timeline($("timeline"), shownJobs(), (j) => jobHref(j.job_uuid, state.sel.run), Date.now());
}

export function renderEvents() {
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

export function renderFailures() {
  if (state.sel.view !== "failures") return;
  $("failure-list").replaceChildren(...state.failures.map((f) =>
    failureRow(f, jobHref(f.job_uuid, f.run_uuid), runHref(f.run_uuid))));
  $("no-failures").hidden = state.failures.length > 0;
  $("older-failures").hidden = !state.failuresNext;
}

export function renderResults() {
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

export function renderAll() {
  $("zone").textContent = `Times: ${zone.label()}`;
  renderView();
  renderRuns();
  renderJobs();
  renderEvents();
  renderFailures();
  renderResults();
}

export function showState(name) {
  // While the token is asked for, the stream cannot connect: say why, not "reconnecting".
  const shown = $("token").hidden ? name : "needs token";
  const live = $("live");
  page.states.push(shown);
  live.dataset.state = shown;
  live.textContent = shown;
}

export function askToken() {
  const form = $("token");
  if (!form.hidden) return;
  form.querySelector(".hint").textContent = token.get()
    ? "that token was refused: another one?" : "kept for this tab only";
  form.hidden = false;
  showState("needs token");
  form.elements.token.focus();
}

export function failing(error) {
  if (error instanceof Unauthorized) askToken();
  else console.error(error);
}
