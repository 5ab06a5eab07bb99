// Stub of k6/http: requests go to the fake platform of world.mjs.
import { world } from '../world.mjs';

function request(method, url, body, params) {
  if (typeof url !== 'string') {
    throw new Error(`http.${method}: url must be a string, not ${typeof url}`);
  }
  if (body !== null && body !== undefined && typeof body !== 'string') {
    throw new Error(`http.${method} ${url}: body must be a string (JSON.stringify it), not ${typeof body}`);
  }
  return world.request(method, url, body === undefined ? null : body, params || {});
}

export function expectedStatuses(...statuses) {
  for (const s of statuses) {
    if (!(Number.isInteger(s) || (s && Number.isInteger(s.min) && Number.isInteger(s.max)))) {
      throw new Error(`expectedStatuses: ${JSON.stringify(s)} is not a status or a {min, max} range`);
    }
  }
  return { expectedStatuses: statuses };
}

const http = {
  request,
  get: (url, params) => request('GET', url, null, params),
  post: (url, body, params) => request('POST', url, body, params),
  put: (url, body, params) => request('PUT', url, body, params),
  del: (url, body, params) => request('DELETE', url, body, params),
  batch: (reqs) =>
    reqs.map((r) => (Array.isArray(r) ? request(r[0], r[1], r[2] ?? null, r[3]) : request(r.method, r.url, r.body ?? null, r.params))),
  expectedStatuses,
  setResponseCallback: () => {},
};

export default http;
