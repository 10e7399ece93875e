// The live page: its controls (forms, buttons, keys, the URL) and its start. What it holds
// and its URL are state.js's, what it shows render.js's, its reads load.js's, the stream's
// messages live.js's.
import { token } from "./api.js";
import { loading, receive, reload } from "./live.js";
import { loadEvents, loadFailures, loadResults, loadRun, loadRuns } from "./load.js";
import {
  renderAll, renderEvents, renderFailures, renderJobs, renderResults, renderRun, renderRuns,
  renderView, showState,
} from "./render.js";
import { $, hashFor, readHash, state } from "./state.js";
import { Stream } from "./stream.js";
import { jobDuration, runDuration, zone } from "./view.js";

// At this width and wider, a job's events sit beside the run's jobs.
const BESIDE_PX = 1200;

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
