// Talking to /api/v1: the bearer token lives in sessionStorage (gone with the tab).

import {has, t} from './i18n.js';

const TOKEN = 'camerahub.token';
const BASE = '/api/v1';
const listeners = new Set();

/** An API failure with a message already in the current language. */
export class ApiError extends Error {
  constructor(status, detail, message = null) {
    const key = status === 0 ? 'err_network' : `err_${status}`;
    const base = has(key) ? t(key) : `HTTP ${status}`;
    super(message ?? (detail ? `${base}: ${detail}` : base));
    this.status = status;
    this.detail = detail;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN);
}

/** Call fn(reason) when the session ends (sign-out, or a 401 from the API). */
export function onSignOut(fn) {
  listeners.add(fn);
}

export function signOut(reason = null) {
  const had = token() !== null;
  sessionStorage.removeItem(TOKEN);
  if (had) listeners.forEach((fn) => fn(reason));
}

function detailOf(body) {
  if (!body || body.detail === undefined) return '';
  if (typeof body.detail === 'string') return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).slice(1).join('.')}: ${d.msg}`).join('; ');
  }
  return JSON.stringify(body.detail);
}

async function failure(resp) {
  let body = null;
  try {
    body = await resp.json();
  } catch {
    body = null;
  }
  return new ApiError(resp.status, detailOf(body));
}

/** fetch() an API path with the bearer token; returns the Response or throws ApiError. */
export async function request(path, {method = 'GET', params, json, form, headers = {}} = {}) {
  const url = new URL(BASE + path, location.origin);
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, v);
  }
  const init = {method, headers: {...headers}, credentials: 'omit', cache: 'no-store'};
  if (token()) init.headers.Authorization = `Bearer ${token()}`;
  if (json !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = new URLSearchParams(form);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch {
    throw new ApiError(0, '');
  }
  if (resp.status === 401 && token() && !path.startsWith('/auth/token')) {
    signOut(t('sessionExpired'));
  }
  if (!resp.ok) throw await failure(resp);
  return resp;
}

/** GET/POST returning parsed JSON. */
export async function getJson(path, options) {
  return (await request(path, options)).json();
}

/** Sign in with the OAuth2 password form; keeps the token for this tab only. */
export async function signIn(username, password) {
  let resp;
  try {
    resp = await request('/auth/token', {method: 'POST', form: {username, password}});
  } catch (err) {
    // the whole message: a wrong password is not 'sign-in required'
    if (err.status === 401) throw new ApiError(401, '', t('err_login'));
    throw err;
  }
  const body = await resp.json();
  sessionStorage.setItem(TOKEN, body.access_token);
  return body;
}

/** A media URL for <video>/<img> on one camera: ?access_token= a 10-minute media token. */
export async function mediaUrl(cameraId, file, params = {}) {
  const id = encodeURIComponent(cameraId);
  const issued = await getJson(`/cameras/${id}/media-token`, {method: 'POST'});
  const url = new URL(`${BASE}/cameras/${id}/${file}`, location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, v);
  }
  url.searchParams.set('access_token', issued.access_token);
  return url.pathname + url.search;
}
