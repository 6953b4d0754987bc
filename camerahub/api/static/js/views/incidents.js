// Incidents: list, detail (alerts, holds, grants), state changes, holds and export, new.

import {getJson, request} from '../api.js';
import {download, field, h, replace, table} from '../dom.js';
import {lang, t, tv} from '../i18n.js';
import {showTime, tokyoInputToUtc, utcToTokyoInput} from '../time.js';
import {ZOOMS} from '../timeline.js';
import {createPlayer} from './playback.js';

const SIDE_BY_SIDE = 4;

const time = (v) => showTime(v, lang());

function windowText(start, end) {
  return start ? `${time(start)} – ${time(end)}` : '';
}

function listTable(items) {
  return table([t('incident'), t('kind'), t('incidentState'), t('room'), t('window'),
    t('openedBy'), t('created')], items.map((i) => [
    h('a', {href: `#/incidents/${i.id}`}, `#${i.id}`), tv('kind', i.kind),
    h('span', {class: `badge ${i.state}`}, tv('st', i.state)), i.room_name || i.room || '',
    windowText(i.window_start, i.window_end), i.opened_by_name
      || (i.opened_by?.startsWith('alert-source:') ? t('openedByAlert') : i.opened_by || ''),
    time(i.created_at)]));
}

function newIncidentForm(session, go, notify) {
  const rooms = new Map(session.cameras.map((c) => [c.room, c.room_name]));
  const now = new Date();
  const room = field(t('room'), h('select', {name: 'room', required: true},
    [...rooms].map(([id, name]) => h('option', {value: id}, name || id))));
  const from = field(t('from'), h('input', {type: 'datetime-local', required: true,
    value: utcToTokyoInput(new Date(now.getTime() - 3600 * 1000))}));
  const to = field(t('to'), h('input', {type: 'datetime-local', required: true,
    value: utcToTokyoInput(now)}));
  const reason = field(t('reason'), h('textarea', {required: true, minlength: 4,
    maxlength: 4000, rows: 2}));
  const employee = field(t('employeeOptional'), h('input', {maxlength: 64,
    pattern: '[A-Za-z0-9_.\\-]+'}));
  const form = h('form', {novalidate: true, class: 'card', id: 'new-incident'}, h('h2', {}, t('newIncident')),
    h('div', {class: 'row'}, room.row, from.row, to.row, employee.row), reason.row,
    h('button', {type: 'submit'}, t('create')));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const start = tokyoInputToUtc(from.input.value);
    const end = tokyoInputToUtc(to.input.value);
    if (!start || !end || end <= start) {
      notify(t('rangeInvalid'));
      return;
    }
    try {
      const body = {room_id: room.input.value, window: {start, end},
        reason: reason.input.value.trim()};
      if (employee.input.value.trim()) body.employee_id = employee.input.value.trim();
      const made = await getJson('/incidents', {method: 'POST', json: body});
      go(`#/incidents/${made.id}`);
      notify(t('incidentCreated', {id: made.id}), 'notice');
    } catch (err) {
      notify(err.message);
    }
  });
  return form;
}

async function renderList(view, {session, params, go, notify, current}, can) {
  const stateFilter = params.get('state') || '';
  const items = await getJson('/incidents', {params: {state: stateFilter}});
  if (!current()) return; // the user moved on while this loaded
  const select = field(t('incidentState'), h('select', {},
    ['', 'pending_approval', 'open', 'reviewing', 'closed'].map((s) => h('option', {value: s,
      selected: s === stateFilter}, s ? tv('st', s) : t('allStates')))));
  select.input.addEventListener('change', () => go(`#/incidents?state=${select.input.value}`));
  replace(view, h('h1', {}, t('incidentsTitle')), h('div', {class: 'toolbar'}, select.row),
    items.length ? listTable(items) : h('p', {}, t('none')),
    can.openIncident ? newIncidentForm(session, go, notify) : null);
}

function footageLink(camera, start, end) {
  const q = new URLSearchParams({camera, start, end});
  return h('a', {href: `#/playback?${q}`}, t('viewFootage'));
}

/** The incident's cameras played side by side over its window, one clock for all. */
function workspace(inc, ctx) {
  const cams = (inc.cameras || []).filter((c) => (ctx.session.cameras || [])
    .some((s) => s.id === c.id && s.actions.includes('playback')));
  if (!cams.length) return {el: null, dispose() {}};
  const reason = () => null; // the incident's grant covers it: its purpose is the reason
  const players = [];
  const chosen = new Set(cams.slice(0, SIDE_BY_SIDE).map((c) => c.id));
  const grid = h('div', {class: 'workspace-grid', id: 'workspace'});
  const startMs = Date.parse(inc.window_start);
  const span = Date.parse(inc.window_end) - startMs;
  const zoom = span > ZOOMS[1].ms ? ZOOMS[0] : span > ZOOMS[2].ms ? ZOOMS[1] : ZOOMS[2];

  // one clock: every player goes to the moment (a camera without footage there stays put)
  function seekAll(ms) {
    for (const p of players) {
      const from = p.timeline.recordedFrom(ms);
      if (from !== null) p.seek(from);
    }
  }

  function build() {
    players.forEach((p) => p.dispose());
    players.length = 0;
    const boxes = cams.filter((c) => chosen.has(c.id)).map((c, i) => {
      // the caller's own grant on this camera bounds what may be asked; else the window
      const mine = (inc.grants || []).find((g) => g.camera === c.id
        && g.user === ctx.session.me.id && !g.revoked_at);
      const range = mine ? [Date.parse(mine.footage_start), Date.parse(mine.footage_end)]
        : [startMs, startMs + span];
      const p = createPlayer({camera: c.id, id: `ws-player-${i}`, reason, noKeys: true, range,
        notify: ctx.notify, onUserSeek: (ms) => seekAll(ms)});
      players.push(p);
      p.show(startMs + span / 2, zoom).catch((err) => ctx.notify(err.message));
      return h('div', {class: 'ws-cell', 'data-camera': c.id}, h('h3', {}, c.name), p.el);
    });
    replace(grid, boxes);
  }
  const picks = h('div', {class: 'toolbar'}, cams.map((c) => {
    const box = h('input', {type: 'checkbox', value: c.id, checked: chosen.has(c.id)});
    box.addEventListener('change', () => {
      if (box.checked && chosen.size >= SIDE_BY_SIDE) {
        box.checked = false;
        ctx.notify(t('upToFour'));
        return;
      }
      if (box.checked) chosen.add(c.id); else chosen.delete(c.id);
      build();
    });
    return h('label', {}, box, ` ${c.name}`);
  }));
  const playAll = h('button', {type: 'button', id: 'ws-play-all'}, t('playAll'));
  playAll.addEventListener('click', () => seekAll(startMs));
  const pauseAll = h('button', {type: 'button', class: 'secondary'}, t('pause'));
  pauseAll.addEventListener('click', () => players.forEach((p) => p.video.pause()));
  build();
  return {
    el: h('section', {class: 'card'}, h('h2', {}, t('workspaceTitle')),
      h('p', {class: 'hint'}, t('purposeIsReason')), picks,
      h('div', {class: 'toolbar'}, playAll, pauseAll), grid),
    players, seekAll,
    dispose() { players.forEach((p) => p.dispose()); },
  };
}

/** Bookmarks and notes on moments, stored with the incident (and audited). */
function notesSection(inc, ctx, space) {
  const list = h('div', {id: 'notes'});
  const cams = new Map((inc.cameras || []).map((c) => [c.id, c.name]));
  async function load() {
    const notes = await getJson(`/incidents/${inc.id}/notes`);
    replace(list, notes.length ? table([t('at'), t('camera'), t('noteKind'), t('noteText'),
      t('user')], notes.map((n) => [
      n.at ? h('a', {href: '#', class: 'note-moment', onclick: (e) => {
        e.preventDefault();
        space.seekAll?.(Date.parse(n.at));
      }}, time(n.at)) : '', cams.get(n.camera_id) || '', tv('note', n.kind), n.text,
      n.created_by_name || n.created_by])) : h('p', {}, t('none')));
  }
  const text = h('textarea', {rows: 2, maxlength: 4000, id: 'note-text',
    'aria-label': t('noteText')});
  async function add(kind) {
    const body = {kind, text: text.value.trim()};
    if (!body.text) {
      ctx.notify(t('noteEmpty'));
      return;
    }
    const playing = (space.players || []).find((p) => p.position !== null);
    if (kind === 'bookmark' && playing) {
      body.at = new Date(playing.position).toISOString();
      body.camera_id = playing.camera;
    }
    try {
      await getJson(`/incidents/${inc.id}/notes`, {method: 'POST', json: body});
      text.value = '';
      await load();
    } catch (err) {
      ctx.notify(err.message);
    }
  }
  load().catch((err) => ctx.notify(err.message));
  const closed = inc.state === 'closed';
  return h('section', {class: 'card'}, h('h2', {}, t('notesTitle')), list,
    closed ? null : h('div', {}, text, h('div', {class: 'toolbar'},
      h('button', {type: 'button', id: 'add-bookmark', onclick: () => add('bookmark')},
        t('bookmarkHere')),
      h('button', {type: 'button', class: 'secondary', id: 'add-note',
        onclick: () => add('note')}, t('addNote')))));
}

function stateForm(inc, reload, notify, can) {
  if (inc.state === 'closed' || !can.move) return null;
  const outcome = field(t('outcomeLabel'), h('textarea', {rows: 2, maxlength: 4000}));
  const move = async (state) => {
    try {
      await getJson(`/incidents/${inc.id}/state`, {method: 'POST',
        json: {state, outcome: outcome.input.value.trim() || null}});
      await reload();
    } catch (err) {
      notify(err.message);
    }
  };
  return h('section', {class: 'card'}, h('h2', {}, t('incidentState')), outcome.row,
    h('div', {class: 'toolbar'},
      inc.state === 'open' ? h('button', {type: 'button', id: 'to-reviewing',
        onclick: () => move('reviewing')}, t('toReviewing')) : null,
      can.close ? h('button', {type: 'button', id: 'to-closed', onclick: () => move('closed')},
        t('toClosed')) : null));
}

function crisisActions(inc, can, reload, notify) {
  const buttons = [];
  if (can.approve && inc.state === 'pending_approval') {
    buttons.push(h('button', {type: 'button', onclick: async () => {
      try {
        await getJson(`/incidents/${inc.id}/approve`, {method: 'POST'});
        await reload();
      } catch (err) {
        notify(err.message);
      }
    }}, t('approveIncident')));
  }
  if (can.holds) {
    buttons.push(h('button', {type: 'button', class: 'secondary', onclick: async () => {
      if (!window.confirm(t('confirmRelease'))) return;
      try {
        const res = await getJson(`/incidents/${inc.id}/release`, {method: 'POST'});
        await reload();
        notify(t('released_n', {n: res.released}), 'notice');
      } catch (err) {
        notify(err.message);
      }
    }}, t('releaseHolds')));
  }
  if (can.export) {
    buttons.push(h('button', {type: 'button', onclick: async () => {
      try {
        const resp = await request(`/incidents/${inc.id}/export`, {method: 'POST'});
        download(await resp.blob(), `incident-${inc.id}.zip`);
      } catch (err) {
        notify(err.message);
      }
    }}, t('exportBundle')));
  }
  return buttons.length ? h('div', {class: 'toolbar'}, buttons) : null;
}

let open = null; // the workspace on screen, disposed when the detail is drawn again

async function renderDetail(view, id, ctx, can) {
  const reload = () => renderDetail(view, id, ctx, can);
  const inc = await getJson(`/incidents/${encodeURIComponent(id)}`);
  if (!ctx.current()) return;
  const n = inc.names || {};
  const managers = (n.managers || []).map((u) => `${u.name}（${tv('role', u.role)}）`).join('、');
  const facts = [[t('kind'), tv('kind', inc.kind)], [t('incidentState'), tv('st', inc.state)],
    [t('room'), n.room || inc.room], [t('division'), n.division],
    [t('cameras'), (inc.cameras || []).map((c) => c.name).join('、')],
    [t('managersLabel'), managers],
    [t('window'), windowText(inc.window_start, inc.window_end)],
    [t('employee'), inc.employee], [t('reason'), inc.reason], [t('outcome'), inc.outcome],
    [t('openedBy'), n.opened_by || (inc.opened_by.startsWith('alert-source:')
      ? t('openedByAlert') : inc.opened_by)], [t('created'), time(inc.created_at)]];
  const isManager = ['department-head', 'division-manager'].includes(ctx.session.me.role);
  const inArea = (n.managers || []).some((u) => u.id === ctx.session.me.id);
  const moves = {move: can.approve || (isManager && inArea), close: can.approve};
  open?.dispose();
  open = workspace(inc, ctx);
  replace(view, h('p', {}, h('a', {href: '#/incidents'}, `← ${t('backToList')}`)),
    h('h1', {}, `${t('incident')} #${inc.id}`),
    h('dl', {class: 'facts card'}, facts.filter(([, v]) => v)
      .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
    crisisActions(inc, can, reload, ctx.notify),
    open.el, notesSection(inc, ctx, open),
    h('section', {class: 'card'}, h('h2', {}, t('alerts')), inc.alerts.length
      ? table([t('rule'), t('employee'), t('terminal'), t('severity'), t('window'), t('received')],
        inc.alerts.map((a) => [a.rule, a.employee, a.terminal, tv('sev', a.severity),
          windowText(a.window_start, a.window_end), time(a.received_at)]))
      : h('p', {}, t('none'))),
    h('section', {class: 'card'}, h('h2', {}, t('holds')), inc.holds.length
      ? table([t('camera'), t('start'), t('end'), t('released'), ''], inc.holds.map((x) => [
        x.camera_name || x.camera, time(x.start), time(x.end), time(x.released_at),
        footageLink(x.camera, x.start, x.end)]))
      : h('p', {}, t('none'))),
    h('section', {class: 'card'}, h('h2', {}, t('grants')), inc.grants.length
      ? table([t('user'), t('camera'), t('footage'), t('expires'), t('revoked')],
        inc.grants.map((g) => [g.user_name || g.user, g.camera_name || g.camera,
          windowText(g.footage_start, g.footage_end),
          time(g.expires_at), time(g.revoked_at)]))
      : h('p', {}, t('none'))),
    stateForm(inc, reload, ctx.notify, moves));
}

export async function render(view, ctx) {
  const can = ctx.can;
  if (ctx.rest.length) await renderDetail(view, ctx.rest[0], ctx, can);
  else await renderList(view, ctx, can);
}
