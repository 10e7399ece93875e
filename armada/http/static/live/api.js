// Reads over REST, relative to the page (so a path prefix such as /tracking/ just works),
// with the read token of this tab when the service asked for one.
const KEY = "armada.token";

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value),
  clear: () => sessionStorage.removeItem(KEY),
};

export class Unauthorized extends Error {}
export class NotFound extends Error {}

export async function get(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") query.set(name, value);
  }
  const url = query.size ? `${path}?${query}` : path;
  const headers = { Accept: "application/json" };
  const bearer = token.get();
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const response = await fetch(url, { headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized(url);
  if (response.status === 404) throw new NotFound(url);
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  return response.json();
}

export function streamUrl(cursor) {
  const url = new URL("ws/events/", location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.hash = "";
  if (cursor) {
    url.searchParams.set("since", cursor.seq);
    url.searchParams.set("epoch", cursor.epoch);
  }
  const bearer = token.get();
  if (bearer) url.searchParams.set("token", bearer);
  return url.href;
}
