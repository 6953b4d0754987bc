// The app shell: session, navigation by URL hash, language switch, messages.

import {getJson, onSignOut, signOut, token} from './api.js';
import {h, replace} from './dom.js';
import {lang, setLang, t, tv} from './i18n.js';
import {alarmText} from './views/health.js';
import * as audit from './views/audit.js';
import * as cameras from './views/cameras.js';
import * as home from './views/home.js';
import * as incidents from './views/incidents.js';
import * as live from './views/live.js';
import * as login from './views/login.js';
import * as ops from './views/ops.js';
import * as playback from './views/playback.js';
import * as register from './views/register.js';

const session = {me: null, cameras: []};
const ROUTES = {login, home, cameras, live, playback, incidents, audit, register, ops};
let cleanup = null;
let pendingNotice = null; // shown after the next render (e.g. why we signed out)

/** Show a message (error or notice) above the view. */
export function notify(text, kind = 'error') {
  const box = document.getElementById('message');
  box.className = kind;
  box.hidden = !text;
  box.textContent = text || '';
}

/** Go to a screen: '#/name?x=y'. */
export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function parseHash() {
  const [path, query = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name = '', ...rest] = path.split('/');
  return {name, rest: rest.map(decodeURIComponent), params: new URLSearchParams(query)};
}

/** What the signed-in user may open, from /auth/me and the camera list. */
export function abilities() {
  const me = session.me;
  const acts = new Set(session.cameras.flatMap((c) => c.actions));
  const manager = ['department-head', 'division-manager'].includes(me?.role);
  return {
    home: true,
    cameras: session.cameras.length > 0,
    live: acts.has('live'),
    playback: acts.has('playback'),
    incidents: me?.role === 'crisis-management' || manager,
    openIncident: me?.role === 'crisis-management' || manager,
    holds: (me?.actions || []).includes('hold'),
    approve: (me?.actions || []).includes('incident'),  // crisis-management approves
    export: acts.has('export'),
    audit: (me?.actions || []).includes('audit'),
    register: (me?.actions || []).includes('audit'), // the monthly register, for auditors
    ops: (me?.actions || []).includes('health'),
    reasonNeeded: manager,
  };
}

function homePage() {
  // not the live grid: opening every camera (each view audited) should be a choice
  const can = abilities();
  if (can.cameras) return '#/cameras';
  if (can.incidents) return '#/incidents';
  if (can.audit) return '#/audit';
  if (can.ops) return '#/ops';
  return '#/home';
}

function renderHeader() {
  document.getElementById('brand').textContent = t('appName');
  document.getElementById('lang').textContent = t('langSwitch');
  document.getElementById('lang').setAttribute('aria-label', lang() === 'ja'
    ? 'Switch to English' : '日本語に切り替え');
  const out = document.getElementById('signout');
  out.textContent = t('signOut');
  out.hidden = !session.me;
  const who = document.getElementById('whoami');
  who.textContent = session.me
    ? t('signedInAs', {name: session.me.id, role: tv('role', session.me.role)}) : '';
  const can = abilities();
  const current = parseHash().name;
  const links = [['cameras', 'navCameras'], ['live', 'navLive'], ['playback', 'navPlayback'],
    ['incidents', 'navIncidents'], ['audit', 'navAudit'], ['register', 'navRegister'],
    ['ops', 'navOps']]
    .filter(([name]) => session.me && can[name])
    .map(([name, label]) => h('a', {href: `#/${name}`, id: `nav-${name}`,
      'aria-current': current === name ? 'page' : null}, t(label)));
  replace(document.getElementById('nav'), links);
}

let loading = null; // one /auth/me + /cameras load shared by overlapping renders

function loadSession() {
  loading ??= Promise.all([getJson('/auth/me'), getJson('/cameras')]).then(([me, cams]) => {
    session.me = me;
    session.cameras = cams;
  }).catch((err) => {
    loading = null;
    throw err;
  });
  return loading;
}

let generation = 0; // a newer render (the hash changed meanwhile) wins over an older one

/** Render the screen the URL names (signing in first if needed). */
export async function render() {
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const mine = ++generation;
  const view = document.getElementById('view');
  let {name, rest, params} = parseHash();
  if (!token()) name = 'login';
  else if (!session.me) {
    try {
      await loadSession();
    } catch (err) {
      notify(err.message);
      return;
    }
    if (mine !== generation) return;
  }
  if (name === 'login' && token()) {
    go(homePage());
    return;
  }
  if (!ROUTES[name] || (name !== 'login' && !abilities()[name])) {
    go(name === 'login' ? '#/login' : homePage());
    return;
  }
  renderHeader();
  if (noticeTimer === null) pollNotices();
  replace(view, h('p', {class: 'muted'}, t('loading')));
  try {
    const done = await ROUTES[name].render(view, {session, rest, params, go, notify,
      can: abilities(), current: () => mine === generation});
    if (mine !== generation && done) done(); // superseded while loading: undo at once
    else cleanup = done || null;
  } catch (err) {
    replace(view);
    notify(err.message);
  }
  if (pendingNotice) {
    notify(pendingNotice, 'notice');
    pendingNotice = null;
  }
}

// The notification area: active alarms for users who see camera health (ops), polled.
const NOTICE_MS = 15000;
let noticeTimer = null;

function drawNotices(alarms) {
  const box = document.getElementById('notices');
  if (!box) return;
  box.hidden = !alarms.length;
  replace(box, alarms.length ? [h('strong', {}, `${t('noticesTitle')} (${alarms.length})`),
    h('ul', {}, alarms.slice(0, 5).map((a) => h('li', {'data-alarm': a.kind,
      'data-subject': a.subject}, alarmText(a))))] : []);
}

async function pollNotices() {
  clearTimeout(noticeTimer);
  noticeTimer = null;
  if (!session.me || !abilities().ops) {
    drawNotices([]);
    return;
  }
  try {
    drawNotices(await getJson('/ops/alarms'));
  } catch {
    // a failed poll keeps the last notices; the next one tries again
  }
  noticeTimer = setTimeout(pollNotices, NOTICE_MS);
}

function start() {
  setLang(lang());
  document.getElementById('lang').addEventListener('click', () => {
    setLang(lang() === 'ja' ? 'en' : 'ja');
    notify('');
    render();
  });
  document.getElementById('signout').addEventListener('click', () => signOut());
  onSignOut((reason) => {
    session.me = null;
    session.cameras = [];
    loading = null;
    clearTimeout(noticeTimer);
    noticeTimer = null;
    drawNotices([]);
    pendingNotice = reason;
    go('#/login');
  });
  window.addEventListener('hashchange', () => {
    notify('');
    render();
  });
  render();
}

start();
