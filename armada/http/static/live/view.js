// Pure DOM building: each function returns or fills elements from records, text only
// (never HTML from data). Sizes go through element.style, which the page's CSP allows.
export const STATUSES = ["Running", "Success", "Failed", "Lost", "Pending", "Cancelled"];
export const FAILED = new Set(["Failed", "Lost"]);
// Failed first (on demand): the order a job list is read in when something went wrong.
const URGENCY = { Failed: 0, Lost: 1, Running: 2, Pending: 3, Cancelled: 4, Success: 5 };

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function link(href, text, className) {
  const a = el("a", className, text);
  a.href = href;
  return a;
}

const pad = (n) => String(n).padStart(2, "0");
const ZONE_KEY = "armada.zone";

// Times are shown in UTC or in the browser's zone, the choice kept in localStorage.
export const zone = {
  utc: localStorage.getItem(ZONE_KEY) !== "local",
  toggle() {
    this.utc = !this.utc;
    localStorage.setItem(ZONE_KEY, this.utc ? "utc" : "local");
  },
  label() {
    if (this.utc) return "UTC";
    const offset = -new Date().getTimezoneOffset();
    const sign = offset < 0 ? "-" : "+";
    return `UTC${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
  },
};

function parts(d) {
  return zone.utc
    ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()]
    : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
}

// A time with its zone; the date too unless it is today's (in that zone).
export function when(iso) {
  if (!iso) return "—";
  const [y, mo, d, h, mi, s] = parts(new Date(iso));
  const today = parts(new Date());
  const time = `${pad(h)}:${pad(mi)}:${pad(s)} ${zone.label()}`;
  if (y === today[0] && mo === today[1] && d === today[2]) return time;
  return `${y}-${pad(mo)}-${pad(d)} ${time}`;
}

export function timeEl(iso, className = "muted") {
  const node = el("time", className, when(iso));
  if (iso) node.dateTime = iso;
  return node;
}

export function span(ms) {
  if (!(ms >= 0)) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

export const shortId = (id) => (id.length > 10 ? id.slice(0, 8) : id);
export const firstLine = (text) =>
  (text || "").split(/\r?\n/).map((line) => line.trim()).find((line) => line) || "";
export const later = (a, b) => (!a || (b && Date.parse(b) > Date.parse(a)) ? b : a);

export function badge(status) {
  return el("span", `badge s-${status.toLowerCase()}`, status);
}

export const countOf = (run, status) => run[`jobs_${status.toLowerCase()}`] || 0;

// The README's rule (Run state), so that a run's word follows its counts live.
export function runStatus(run) {
  if (countOf(run, "Running") + countOf(run, "Pending")) return "Running";
  if (countOf(run, "Failed") + countOf(run, "Lost")) return "Failed";
  if (countOf(run, "Cancelled")) return "Cancelled";
  return run.jobs_total ? "Success" : "Pending";
}

export function stack(run) {
  const bar = el("span", "stack");
  const labels = STATUSES.filter((s) => countOf(run, s)).map((s) => `${countOf(run, s)} ${s.toLowerCase()}`);
  bar.title = labels.join(", ") || "no jobs";
  bar.setAttribute("role", "img");
  bar.setAttribute("aria-label", bar.title);
  for (const status of STATUSES) {
    const n = countOf(run, status);
    if (!n) continue;
    const part = el("span", `s-${status.toLowerCase()}`);
    part.style.flexGrow = n;
    bar.append(part);
  }
  return bar;
}

// From its first report to its last; until now while a job runs or waits.
export function runDuration(run, now) {
  const start = Date.parse(run.run_datetime);
  if (runStatus(run) === "Running") return span(now - start);
  return span(Date.parse(run.last_report_datetime || run.run_datetime) - start);
}

export function runRow(run, selected, href, failureHref, now) {
  const status = runStatus(run);
  const li = el("li", selected ? "run selected" : "run");
  li.dataset.run = run.run_uuid;
  li.dataset.status = status;
  const name = link(href, run.run_uuid, "id");
  if (selected) name.setAttribute("aria-current", "true");
  const jobs = run.jobs_total || 0;
  const done = jobs - countOf(run, "Running") - countOf(run, "Pending");
  const meta = el("div", "meta");
  meta.append(badge(status), stack(run), el("span", "count", `${done} of ${jobs} job${jobs === 1 ? "" : "s"} done`));
  const failed = countOf(run, "Failed");
  const lost = countOf(run, "Lost");
  if (failed || lost) {
    meta.append(el("span", "failed", [failed && `${failed} failed`, lost && `${lost} lost`].filter(Boolean).join(", ")));
  }
  meta.append(timeEl(run.run_datetime), el("span", "duration", runDuration(run, now)));
  li.append(name, meta);
  if (run.failure_job_uuid && status !== "Success") {
    const line = link(failureHref, "", "failure");
    line.append(el("b", "", `${run.failure_agent} ${shortId(run.failure_job_uuid)}`), ` ${run.failure || "(no message)"}`);
    line.title = run.failure || "";
    li.append(line);
  }
  return li;
}

export function jobDuration(job, now) {
  const end = job.job_status === "Running" ? now : Date.parse(job.last_report_datetime);
  return span(end - Date.parse(job.job_datetime));
}

// The agent and the job's short id (two jobs of one agent differ by it): a text and a <code>.
export function jobLabel(job, node = el("span", "who")) {
  node.append(`${job.job_associated_agent} `, el("code", "jobid", shortId(job.job_uuid)));
  node.title = job.job_uuid;
  return node;
}

// A row of the jobs "table": a grid, not a <tr>, so that rows out of view skip layout
// (content-visibility), which table rows cannot: a 1,000-job run lays out what is seen.
// Rows are clones of one built once: a 1,000-job run builds them in a few milliseconds.
let jobTemplate;

function newJobTemplate() {
  const row = el("div", "job");
  row.setAttribute("role", "row");
  const cells = [el("span"), el("span"), el("span", "duration"), el("span", "msg")];
  cells[0].append(link("", "", "who"));
  cells[1].append(el("span", "badge"));
  for (const cell of cells) cell.setAttribute("role", "cell");
  row.append(...cells);
  return row;
}

export function jobRow(job, selected, href, now) {
  jobTemplate ||= newJobTemplate();
  const row = jobTemplate.cloneNode(true);
  const [who, status, duration, text] = row.children;
  if (selected) row.classList.add("selected");
  row.dataset.job = job.job_uuid;
  row.dataset.status = job.job_status;
  const a = jobLabel(job, who.firstChild);
  a.href = href;
  if (selected) a.setAttribute("aria-current", "true");
  status.firstChild.className = `badge s-${job.job_status.toLowerCase()}`;
  status.firstChild.textContent = job.job_status;
  duration.textContent = jobDuration(job, now);
  const failed = FAILED.has(job.job_status);
  const message = (failed ? job.failure || job.last_message : job.last_message) || "";
  if (failed) text.classList.add("failure");
  text.textContent = message;
  text.title = message;
  return row;
}

export function sortJobs(jobs, failedFirst) {
  if (!failedFirst) return jobs;
  return jobs.slice().sort((a, b) => (URGENCY[a.job_status] ?? 6) - (URGENCY[b.job_status] ?? 6));
}

// More lanes than this are not read as a chart, and cost a 1,000-job run its render time:
// the first ones in the list's order (failed first, on demand), then a note to filter.
const LANES = 200;

export function timeline(box, shown, hrefOf, now) {
  box.replaceChildren();
  if (!shown.length) return;
  // Oldest at the top, as a Gantt chart reads.
  const jobs = shown.slice(0, LANES).sort((a, b) => Date.parse(a.job_datetime) - Date.parse(b.job_datetime));
  const starts = jobs.map((j) => Date.parse(j.job_datetime));
  const ends = jobs.map((j, i) => Math.max(starts[i],
    j.job_status === "Running" ? now : Date.parse(j.last_report_datetime || j.job_datetime)));
  const first = Math.min(...starts);
  const range = Math.max(Math.max(...ends) - first, 1000);
  const lanes = el("div", "lanes");
  jobs.forEach((job, i) => {
    const lane = el("div", "lane");
    lane.append(el("span", "who", `${job.job_associated_agent} ${shortId(job.job_uuid)}`));
    const track = el("span", "track");
    // Clickable; rows are the keyboard's way to a job (a thousand bars would be a thousand stops).
    const bar = link(hrefOf(job), "", `s-${job.job_status.toLowerCase()}`);
    bar.tabIndex = -1;
    bar.style.left = `${((starts[i] - first) / range) * 100}%`;
    bar.style.width = `${((ends[i] - starts[i]) / range) * 100}%`;
    bar.title = `${job.job_associated_agent} ${job.job_uuid} ${job.job_status}: ${when(job.job_datetime)} → ${when(job.last_report_datetime)}`;
    track.append(bar);
    lane.append(track);
    lanes.append(lane);
  });
  const scale = el("div", "scale muted");
  scale.append(el("span", "", when(new Date(first).toISOString())), el("span", "", span(range)),
    el("span", "", when(new Date(first + range).toISOString())));
  box.append(lanes, scale);
  if (shown.length > LANES) box.append(el("p", "muted", `${LANES} of ${shown.length} jobs: filter the jobs to see others`));
}

export function eventRow(event) {
  const li = el("li");
  li.dataset.event = event.event_uuid;
  li.dataset.status = event.event_status;
  li.append(timeEl(event.event_datetime));
  // Running is what an ordinary step says: only another status earns a badge.
  if (event.event_status !== "Running") li.append(badge(event.event_status));
  li.append(el("span", "content", event.event_content));
  return li;
}

export function failureRow(job, href, runHref) {
  const li = el("li", "failure-row");
  li.dataset.job = job.job_uuid;
  const head = el("div", "head");
  const a = link(href, "");
  a.append(jobLabel(job));
  head.append(badge(job.job_status), a, el("span", "muted", "in"), link(runHref, job.run_uuid, "run-name"),
    timeEl(job.last_report_datetime));
  li.append(head, el("div", "msg failure", job.failure || job.last_message || "(no message)"));
  return li;
}

export function resultRow(hit, href, terms) {
  const li = el("li", "result");
  li.dataset.event = hit.event_uuid;
  const head = el("div", "head");
  const a = link(href, "");
  if (hit.job_associated_agent !== null) a.append(jobLabel({ ...hit, job_status: hit.job_status || "" }));
  else a.textContent = hit.job_uuid;
  head.append(timeEl(hit.event_datetime), a, el("span", "muted run-name", hit.run_uuid || ""));
  if (hit.event_status !== "Running") head.append(badge(hit.event_status));
  li.append(head, marked(hit.event_content, terms));
  return li;
}

// The content with each search term in <mark> (text nodes only, as everywhere).
function marked(text, terms) {
  const content = el("span", "content");
  const words = terms.filter(Boolean).map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!words.length) return (content.textContent = text, content);
  text.split(new RegExp(`(${words.join("|")})`, "i")).forEach((piece, i) => {
    content.append(i % 2 ? el("mark", "", piece) : piece);
  });
  return content;
}
