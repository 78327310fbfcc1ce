// The JSON API with the session cookie. Unsafe methods carry the session's CSRF token (X-CSRF-Token), as the
// gateway requires for cookie-authenticated requests.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

let sessionPromise = null;

// {"signed_in": false, "sign_in_url", "token_sign_in"} or {"signed_in": true, "user", "name", "roles",
// "csrf_token"}. Asked once per page.
export function session() {
  if (!sessionPromise) {
    sessionPromise = fetch('/auth/session', {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(async (response) => {
        if (!response.ok) throw new ApiError(response.status, 'session', 'cannot read the sign-in state');
        return response.json();
      });
  }
  return sessionPromise;
}

export async function csrfToken() {
  const current = await session();
  return current.signed_in ? current.csrf_token : '';
}

async function parse(response) {
  const type = response.headers.get('Content-Type') || '';
  if (response.status === 204) return null;
  if (type.startsWith('application/json')) return response.json();
  return null;
}

// api('GET', '/api/v1/cases?view=open') -> the parsed JSON; throws ApiError with the server's message.
export async function api(method, path, body) {
  const headers = {Accept: 'application/json'};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const token = await csrfToken();
    if (token) headers['X-CSRF-Token'] = token;
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await parse(response);
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, data && data.error, data && data.message);
  }
  return data;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body === undefined ? {} : body);

// A query string from an object, leaving out empty values.
export function query(parameters) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(parameters)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
