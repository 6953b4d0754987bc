// Access records for auditors: filtered table, CSV download, per-division summary.

import {getJson, request} from '../api.js';
import {download, field, h, replace, table} from '../dom.js';
import {has, lang, t, tv} from '../i18n.js';
import {showTime, tokyoInputToUtc, utcToTokyoInput} from '../time.js';

const PAGE = 100;
const time = (v) => showTime(v, lang());
// What the action filter offers: codes, or families (no dot) that match every code in them.
const ACTIONS = ['playback', 'thumbnail', 'timeline', 'recordings', 'live', 'snapshot', 'export',
  'media-token', 'view', 'auth', 'grant.create', 'grant.revoke', 'hold.place', 'hold.release',
  'incident.open', 'incident.approve', 'incident.reviewing', 'incident.closed',
  'alert.received', 'audit', 'deploy.apply', 'retention.sweep'];
const FOOTAGE = new Set(['playback', 'thumbnail', 'live', 'snapshot', 'export']);

/** An action code as the screen shows it (the code itself if it has no label). */
export function actionLabel(code) {
  return tv('act', String(code).replace(/\./g, '_'));
}

function filterForm(params) {
  const now = new Date();
  const f = {
    user: field(t('user'), h('input', {name: 'user', maxlength: 200,
      value: params.get('user') || ''})),
    camera: field(t('camera'), h('input', {name: 'camera', maxlength: 200,
      value: params.get('camera') || ''})),
    division: field(t('divisionFilter'), h('input', {name: 'division', maxlength: 200,
      value: params.get('division') || ''})),
    action: field(t('action'), h('select', {name: 'action'}, h('option', {value: ''}, t('all')),
      ACTIONS.map((a) => h('option', {value: a, selected: a === params.get('action')},
        actionLabel(a))))),
    decision: field(t('decision'), h('select', {name: 'decision'},
      [['', t('all')], ['allow', t('allow')], ['deny', t('deny')], ['fail', t('decision_fail')],
        ['info', t('decision_info')]]
        .map(([v, label]) => h('option', {value: v}, label)))),
    start: field(t('from'), h('input', {type: 'datetime-local', name: 'start',
      value: utcToTokyoInput(new Date(now.getTime() - 7 * 86400 * 1000))})),
    end: field(t('to'), h('input', {type: 'datetime-local', name: 'end',
      value: utcToTokyoInput(new Date(now.getTime() + 60 * 1000))})),
  };
  return f;
}

function values(f) {
  return {user: f.user.input.value.trim(), camera: f.camera.input.value.trim(),
    division: f.division.input.value.trim(),
    action: f.action.input.value, decision: f.decision.input.value,
    start: tokyoInputToUtc(f.start.input.value), end: tokyoInputToUtc(f.end.input.value)};
}

function footageText(e) {
  if (!e.footage_start) return '';
  return e.footage_end ? `${time(e.footage_start)} – ${time(e.footage_end)}` : time(e.footage_start);
}

function decisionBadge(decision) {
  return h('span', {class: `badge ${decision}`}, tv('decision', decision));
}

function who(e) {
  if (e.actor === 'anonymous') return t('anonymous');
  if (e.names?.actor) return e.names.actor;
  const [kind, ...rest] = String(e.actor).split(':');
  const name = rest.join(':');
  if (kind === 'system') return has(`actor_system_${name}`) ? t(`actor_system_${name}`) : e.actor;
  if (kind === 'alert-source') return `${t('openedByAlert')} (${name})`;
  if (kind === 'apikey') return t('actorApiKey', {name});
  return e.actor;
}

function details(e, session) {
  const n = e.names || {};
  const parts = [];
  if (e.action === 'grant.create') {
    parts.push(t('grantTo', {name: n.grantee || e.detail?.user || ''}));
    parts.push(t('grantWindow', {start: time(e.footage_start), end: time(e.footage_end)}));
    if (e.detail?.expires_at) parts.push(t('grantExpires', {at: time(e.detail.expires_at)}));
    if (n.cameras?.length) parts.push(n.cameras.join('、'));
  } else if (e.action === 'grant.revoke' && n.grantee) {
    parts.push(t('grantTo', {name: n.grantee}));
  }
  const cam = (session.cameras || []).find((c) => c.id === e.camera_id);
  if (FOOTAGE.has(e.action) && e.footage_start && cam?.actions.includes('playback')) {
    const end = e.footage_end || new Date(Date.parse(e.footage_start) + 60e3).toISOString();
    const q = new URLSearchParams({camera: e.camera_id, start: e.footage_start, end});
    parts.push(h('a', {href: `#/playback?${q}`, class: 'footage-link'}, t('openFootage')));
  }
  return h('span', {}, parts.flatMap((p, i) => (i ? [' ', p] : [p])));
}

function rows(items, session) {
  return items.map((e) => [String(e.seq), h('span', {class: 'nowrap'}, time(e.at)), who(e),
    tv('role', e.role), h('span', {'data-action': e.action}, actionLabel(e.action)),
    decisionBadge(e.decision), e.names?.camera || e.camera_id || '', footageText(e),
    e.reason || '', e.incident_id ? `#${e.incident_id}` : '', details(e, session),
    e.client || '']);
}

const HEADERS = () => ['#', t('at'), t('user'), t('role_label'), t('action'), t('decision'),
  t('camera'), t('footage'), t('reason'), t('incident'), t('details'), t('client')];

function summaryView(data) {
  if (!data.divisions.length && !(data.users || []).length) {
    return h('p', {id: 'audit-users'}, t('none'));
  }
  const person = (a) => a.user_name || (a.user === 'anonymous' ? t('anonymous') : a.user);
  return [...data.divisions.map((d) => h('section', {class: 'division'},
    h('h3', {}, `${t('division')}: ${d.division_name || d.division}`,
      d.department ? ` / ${t('department')}: ${d.department_name || d.department}` : ''),
    table([t('user'), t('action'), t('allowed'), t('denied'), t('cameras'), t('reasons'),
      t('first'), t('last')], d.accesses.map((a) => [person(a), actionLabel(a.action),
      String(a.allowed), String(a.denied), (a.camera_names || a.cameras).join('、'),
      a.reasons.join(' / '), time(a.first_local), time(a.last_local)])))),
  h('section', {class: 'division', id: 'audit-users'}, h('h3', {}, t('usersSummary')),
    table([t('user'), t('role_label'), t('action'), t('allowed'), t('denied'), t('cameras'),
      t('first'), t('last')], (data.users || []).map((a) => [person(a), tv('role', a.role),
      actionLabel(a.action), String(a.allowed), String(a.denied),
      (a.camera_names || a.cameras).join('、'), time(a.first_local), time(a.last_local)])))];
}

export function render(view, {session, params, notify}) {
  const f = filterForm(params);
  const result = h('div', {id: 'audit-result'});
  const summary = h('div', {id: 'audit-summary'});
  let offset = 0;
  let body = null;

  async function load(more = false) {
    offset = more ? offset : 0;
    try {
      const page = await getJson('/audit', {params: {...values(f), limit: PAGE, offset}});
      if (!more) {
        const tbl = table(HEADERS(), [], null);
        tbl.id = 'audit-table';
        body = tbl.querySelector('tbody');
        replace(result, h('p', {}, t('total', {n: page.total})), tbl);
      }
      for (const cells of rows(page.items, session)) {
        body.append(h('tr', {}, cells.map((c) => h('td', {}, c))));
      }
      offset = page.next_offset ?? offset;
      if (page.next_offset !== null) {
        const button = h('button', {type: 'button', class: 'secondary'}, t('more'));
        button.addEventListener('click', () => { button.remove(); load(true); });
        result.append(button);
      }
    } catch (err) {
      notify(err.message);
    }
  }

  async function csv() {
    try {
      const params = values(f);
      const resp = await request('/audit.csv', {params});
      download(await resp.blob(), 'audit.csv');
    } catch (err) {
      notify(err.message);
    }
  }

  async function summarise() {
    const {start, end} = values(f);
    if (!start || !end || end <= start) {
      notify(t('rangeInvalid'));
      return;
    }
    try {
      replace(summary, summaryView(await getJson('/audit/summary', {params: {start, end}})));
    } catch (err) {
      notify(err.message);
    }
  }

  const form = h('form', {novalidate: true, class: 'card', id: 'audit-filter', 'aria-label': t('filter')},
    h('div', {class: 'row'}, Object.values(f).map((x) => x.row)),
    h('div', {class: 'toolbar'}, h('button', {type: 'submit'}, t('search')),
      h('button', {type: 'button', class: 'secondary', id: 'csv', onclick: csv},
        t('downloadCsv'))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  replace(view, h('h1', {}, t('auditTitle')), form, result,
    h('section', {class: 'card'}, h('h2', {}, t('summaryTitle')),
      h('button', {type: 'button', class: 'secondary', id: 'summarise', onclick: summarise},
        t('showSummary')), summary));
  load();
}
