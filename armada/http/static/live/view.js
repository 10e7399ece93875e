// Pure DOM building: each function returns or fills elements from records, text only
// (never HTML from data). Sizes go through element.style, which the page's CSP allows.
export const STATUSES = ["Running", "Success", "Failed", "Lost", "Pending", "Cancelled"];

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return time;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

export function span(ms) {
  if (!(ms >= 0)) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor(s / 3600) % 24}h`;
}

export function badge(status) {
  return el("span", `badge s-${status.toLowerCase()}`, status);
}

export const countOf = (run, status) => run[`jobs_${status.toLowerCase()}`] || 0;

export function stack(run) {
  const bar = el("span", "stack");
  const parts = STATUSES.filter((s) => countOf(run, s)).map((s) => `${countOf(run, s)} ${s.toLowerCase()}`);
  bar.title = parts.join(", ") || "no jobs";
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

export function runDuration(run, now) {
  const start = Date.parse(run.run_datetime);
  const active = countOf(run, "Running") + countOf(run, "Pending") > 0;
  if (active) return span(now - start);
  if (run.last) return span(Date.parse(run.last) - start);
  // Its last report is known once the run is opened (the runs list does not carry it).
  return run.jobs_total ? "done" : "—";
}

export function runRow(run, selected, href, now) {
  const li = el("li", selected ? "run selected" : "run");
  li.dataset.run = run.run_uuid;
  const link = el("a", "id", run.run_uuid);
  link.href = href;
  if (selected) link.setAttribute("aria-current", "true");
  const jobs = run.jobs_total || 0;
  const total = el("span", "count", `${jobs} job${jobs === 1 ? "" : "s"}`);
  const started = el("time", "muted", when(run.run_datetime));
  const duration = el("span", "duration", runDuration(run, now));
  li.append(link, stack(run), total, started, duration);
  return li;
}

export function jobRow(job, selected, href) {
  const tr = el("tr", selected ? "selected" : "");
  tr.dataset.job = job.job_uuid;
  const agent = el("td");
  const link = el("a", "", job.job_associated_agent);
  link.href = href;
  link.title = job.job_uuid;
  if (selected) link.setAttribute("aria-current", "true");
  agent.append(link);
  const status = el("td");
  status.append(badge(job.job_status));
  tr.append(agent, status, el("td", "", when(job.job_datetime)), el("td", "", when(job.last)));
  return tr;
}

export function timeline(box, jobs) {
  box.replaceChildren();
  if (!jobs.length) return;
  const starts = jobs.map((j) => Date.parse(j.job_datetime));
  const ends = jobs.map((j, i) => Math.max(starts[i], Date.parse(j.last || j.job_datetime)));
  const first = Math.min(...starts);
  const range = Math.max(Math.max(...ends) - first, 1000);
  jobs.forEach((job, i) => {
    const lane = el("div", "lane");
    lane.append(el("span", "agent", job.job_associated_agent));
    const track = el("span", "track");
    const bar = el("span", `s-${job.job_status.toLowerCase()}`);
    bar.style.left = `${((starts[i] - first) / range) * 100}%`;
    bar.style.width = `${((ends[i] - starts[i]) / range) * 100}%`;
    bar.title = `${job.job_associated_agent} ${job.job_status}: ${when(job.job_datetime)} → ${when(job.last)}`;
    track.append(bar);
    lane.append(track);
    box.append(lane);
  });
  const scale = el("div", "scale muted");
  scale.append(el("span", "", when(new Date(first).toISOString())), el("span", "", span(range)),
    el("span", "", when(new Date(first + range).toISOString())));
  box.append(scale);
}

export function eventRow(event) {
  const li = el("li");
  li.dataset.event = event.event_uuid;
  li.append(el("time", "muted", when(event.event_datetime)), badge(event.event_status),
    el("span", "content", event.event_content));
  return li;
}
