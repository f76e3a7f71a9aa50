// The console's client of the codepool API: every call carries the token
// (the operator's ADMIN_TOKEN, or a project key) as `Authorization: Bearer`;
// every failure becomes an ApiError with the API's own code and message,
// ready to be shown.

const TOKEN = 'codepool.token';
const PROJECT = 'codepool.project';

/** The signed-in session, kept for this tab only (sessionStorage). */
export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  get project() { return sessionStorage.getItem(PROJECT) || 'demo'; },
  signIn(token, project) {
    sessionStorage.setItem(TOKEN, token);
    sessionStorage.setItem(PROJECT, project);
  },
  setProject(project) { sessionStorage.setItem(PROJECT, project); },
  signOut() { sessionStorage.removeItem(TOKEN); },
};

/** A failed call: `status` 0 when the edge did not answer at all. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** `/v1/projects/{project}` + path, names percent-encoded. */
export function projectUrl(path, project = session.project) {
  return `/v1/projects/${encodeURIComponent(project)}${path}`;
}

/** `encodeURIComponent` for a name in a path. */
export const seg = encodeURIComponent;

async function errorOf(res) {
  const text = await res.text().catch(() => '');
  try {
    const { error } = JSON.parse(text);
    if (error?.message) return new ApiError(res.status, error.code ?? 'error', error.message);
  } catch {
    // Not the API's JSON error (a proxy's page, say): fall through.
  }
  return new ApiError(res.status, 'http_' + res.status, `The edge answered ${res.status} ${res.statusText}`.trim());
}

/**
 * Calls the API of the current project.
 * `json`: a body to send as JSON; `accept`: 'text/csv' answers a Blob.
 * Answers the parsed JSON (undefined for an empty body).
 */
export async function call(method, path, { json, accept, project, token = session.token } = {}) {
  const headers = { authorization: `Bearer ${token}` };
  if (json !== undefined) headers['content-type'] = 'application/json';
  if (accept) headers.accept = accept;
  let res;
  try {
    res = await fetch(projectUrl(path, project), {
      method,
      headers,
      body: json === undefined ? undefined : JSON.stringify(json),
    });
  } catch (err) {
    throw new ApiError(0, 'network', `The edge did not answer (${err.message}). Is the Worker running?`);
  }
  if (!res.ok) throw await errorOf(res);
  if (accept && accept !== 'application/json') return res.blob();
  const text = await res.text();
  return text ? JSON.parse(text) : undefined;
}

/**
 * Uploads a file as `text/csv` with upload progress (fetch cannot report it,
 * XMLHttpRequest can). `onProgress(fraction)` runs while bytes go out; the
 * promise answers the import report.
 */
export function uploadCsv(pool, file, { column, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const query = column ? `?column=${encodeURIComponent(column)}` : '';
    xhr.open('POST', projectUrl(`/pools/${seg(pool)}/import${query}`));
    xhr.setRequestHeader('authorization', `Bearer ${session.token}`);
    xhr.setRequestHeader('content-type', 'text/csv');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress?.(e.loaded / e.total);
    };
    xhr.upload.onload = () => onProgress?.(1);
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted: the edge did not answer.'));
    xhr.onload = () => {
      const res = new Response(xhr.responseText, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, 'invalid_answer', 'The edge answered something that is not JSON.'));
        }
      } else {
        errorOf(res).then(reject);
      }
    };
    xhr.send(file);
  });
}
