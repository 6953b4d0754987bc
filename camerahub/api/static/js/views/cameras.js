// Camera list grouped by site and room, with state and the actions this user has.

import {mediaUrl} from '../api.js';
import {h, replace} from '../dom.js';
import {t, tv} from '../i18n.js';
import {badges, figures, healthClass} from './health.js';

function groupBy(items, keyOf) {
  const groups = new Map();
  for (const item of items) {
    const key = keyOf(item);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(item);
  }
  return groups;
}

function actionLinks(cam, {notify}) {
  const id = encodeURIComponent(cam.id);
  const links = [];
  if (cam.actions.includes('live')) {
    links.push(h('a', {href: `#/live?camera=${id}`, class: 'button small'}, t('openLive')));
  }
  if (cam.actions.includes('playback')) {
    links.push(h('a', {href: `#/playback?camera=${id}`, class: 'button small'},
      t('openPlayback')));
  }
  if (cam.actions.includes('snapshot') && cam.actions.includes('live')) {
    // managers would need a stated reason for a snapshot too; they use playback instead
    links.push(h('button', {type: 'button', class: 'small secondary',
      onclick: (e) => showSnapshot(e.currentTarget, cam, notify)}, t('openSnapshot')));
  }
  return links;
}

async function showSnapshot(button, cam, notify) {
  const row = button.closest('tr');
  try {
    const src = await mediaUrl(cam.id, 'snapshot.jpg');
    const img = h('img', {src, alt: `${t('openSnapshot')}: ${cam.name}`, class: 'snapshot'});
    img.addEventListener('error', () => notify(`${cam.name}: ${t('err_503')}`));
    const cell = row.querySelector('.snap') || row.appendChild(h('td', {class: 'snap'}));
    replace(cell, img);
  } catch (err) {
    notify(err.message);
  }
}

function roomTable(rooms, ctx) {
  const rows = [];
  for (const [, cams] of rooms) {
    cams.forEach((cam, i) => rows.push(h('tr', {'data-camera': cam.id,
      'data-health': healthClass(cam.health)},
    i === 0 ? h('th', {scope: 'rowgroup', rowspan: cams.length}, cam.room_name) : null,
    h('td', {}, cam.name),
    h('td', {class: 'health'}, badges(cam.health)),
    h('td', {class: 'figs'}, figures(cam.health)),
    h('td', {}, cam.actions.map((a) => h('span', {class: 'tag'}, tv('act', a)))),
    h('td', {class: 'buttons'}, actionLinks(cam, ctx)))));
  }
  return h('table', {class: 'data cams'},
    h('thead', {}, h('tr', {}, [t('room'), t('camera'), t('state'), t('healthFigures'),
      t('actions'), ''].map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows));
}

function floorLabel(floor) {
  if (floor === null || floor === undefined) return t('floorNone');
  return floor < 0 ? t('floorBasement', {n: -floor}) : t('floorN', {n: floor});
}

function matches(cam, filter) {
  if (filter.site && cam.site !== filter.site) return false;
  if (filter.state && healthClass(cam.health) !== filter.state) return false;
  if (!filter.text) return true;
  const hay = [cam.name, cam.room_name, cam.site_name, cam.division_name, cam.department_name]
    .join(' ').toLowerCase();
  return filter.text.toLowerCase().split(/\s+/).every((w) => hay.includes(w));
}

function listing(cams, filter, ctx) {
  const shown = cams.filter((c) => matches(c, filter));
  const parts = [h('p', {class: 'muted', id: 'cam-count'},
    t('shownOf', {n: shown.length, total: cams.length}))];
  if (!shown.length) parts.push(h('p', {}, t('noMatch')));
  for (const [, siteCams] of groupBy(shown, (c) => c.site)) {
    const siteName = siteCams[0].site_name;
    const floors = [];
    for (const [floor, floorCams] of groupBy(siteCams, (c) => c.floor)) {
      floors.push(h('h3', {}, floorLabel(floor)),
        roomTable(groupBy(floorCams, (c) => c.room), ctx));
    }
    parts.push(h('section', {class: 'card', 'aria-label': `${t('site')}: ${siteName}`},
      h('h2', {}, `${t('site')}: ${siteName}`), floors));
  }
  return parts;
}

export function render(view, ctx) {
  const cams = ctx.session.cameras;
  const filter = {text: '', site: '', state: ''};
  const sites = [...groupBy(cams, (c) => c.site)].map(([id, list]) => [id, list[0].site_name]);
  const body = h('div', {id: 'cam-list'});
  const redraw = () => replace(body, listing(cams, filter, ctx));
  const search = h('input', {type: 'search', id: 'cam-search', placeholder: t('searchHint'),
    'aria-label': t('search')});
  search.addEventListener('input', () => {
    filter.text = search.value.trim();
    redraw();
  });
  const site = h('select', {id: 'cam-site', 'aria-label': t('site')},
    h('option', {value: ''}, t('allSites')),
    sites.map(([id, name]) => h('option', {value: id}, name)));
  site.addEventListener('change', () => {
    filter.site = site.value;
    redraw();
  });
  const state = h('select', {id: 'cam-state', 'aria-label': t('state')},
    ['', 'recording', 'not_recording', 'offline'].map((v) => h('option', {value: v},
      v ? tv('hclass', v) : t('allStatesCam'))));
  state.addEventListener('change', () => {
    filter.state = state.value;
    redraw();
  });
  const parts = [h('h1', {}, t('camerasTitle'), ' ',
    h('small', {class: 'muted'}, t('cameraCount', {n: cams.length})))];
  if (!cams.length) parts.push(h('p', {}, t('noCameras')));
  else parts.push(h('div', {class: 'filters'}, search, site, state), body);
  replace(view, parts);
  redraw();
}
