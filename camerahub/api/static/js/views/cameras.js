// Camera list grouped by site and room, with state and the actions this user has.

import {mediaUrl} from '../api.js';
import {h, replace} from '../dom.js';
import {t, tv} from '../i18n.js';

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
  // the state column only when the API reports camera states
  const withState = [...rooms.values()].flat().some((c) => 'state' in c);
  const rows = [];
  for (const [, cams] of rooms) {
    cams.forEach((cam, i) => rows.push(h('tr', {'data-camera': cam.id},
      i === 0 ? h('th', {scope: 'rowgroup', rowspan: cams.length}, cam.room_name) : null,
      h('td', {}, cam.name, h('br'), h('small', {class: 'muted'}, cam.id)),
      withState ? h('td', {}, h('span', {class: `state ${cam.state || 'unknown'}`},
        cam.state ? tv('camstate', cam.state) : t('stateUnknown'))) : null,
      h('td', {}, cam.actions.map((a) => h('span', {class: 'tag'}, tv('act', a)))),
      h('td', {class: 'buttons'}, actionLinks(cam, ctx)))));
  }
  return h('table', {class: 'data cams'},
    h('thead', {}, h('tr', {}, [t('room'), t('camera'), withState ? t('state') : null,
      t('actions'), ''].filter((x) => x !== null).map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows));
}

export function render(view, ctx) {
  const cams = ctx.session.cameras;
  const parts = [h('h1', {}, t('camerasTitle'), ' ',
    h('small', {class: 'muted'}, t('cameraCount', {n: cams.length})))];
  if (!cams.length) parts.push(h('p', {}, t('noCameras')));
  for (const [site, siteCams] of groupBy(cams, (c) => c.site)) {
    parts.push(h('section', {class: 'card', 'aria-label': `${t('site')}: ${site}`},
      h('h2', {}, `${t('site')}: ${site}`),
      roomTable(groupBy(siteCams, (c) => c.room), ctx)));
  }
  replace(view, parts);
}
