// The ops console (role ops): cameras not recording per site, spool and uploads, health,
// retention forecast, discovery findings, the last deployment and rollout, active alarms,
// and every camera's state. Refreshed every 10 s while open.

import {getJson} from '../api.js';
import {h, replace, table} from '../dom.js';
import {lang, t, tv} from '../i18n.js';
import {showTime} from '../time.js';
import {alarmText, badges, bytes, duration, figures, healthClass} from './health.js';

const REFRESH_MS = 10000;

function card(title, ...body) {
  return h('section', {class: 'card', 'aria-label': title}, h('h2', {}, title), body);
}

function okBadge(ok) {
  return h('span', {class: `badge ${ok ? 'hs-ok' : 'hs-bad'}`}, tv('ok', String(!!ok)));
}

function alarmsCard(alarms) {
  if (!alarms.length) return card(t('opsEvents'), h('p', {class: 'muted'}, t('opsNoEvents')));
  return card(t('opsEvents'), table([t('kind'), t('detail'), t('opsSince')],
    alarms.map((a) => [h('span', {class: 'badge hs-bad', 'data-alarm': a.kind},
      tv('alarm', a.kind)), alarmText(a), showTime(a.since, lang(), false)])));
}

function notRecordingCard(sites) {
  const rows = [];
  for (const site of sites) {
    for (const c of site.not_recording) {
      rows.push(h('tr', {'data-camera': c.id},
        h('td', {}, site.name), h('td', {}, c.name), h('td', {}, c.room_name),
        h('td', {}, h('span', {class: `badge ${{offline: 'hs-bad', online: 'hs-ok'}[c.online]
          || 'hs-warn'}`,
          'data-online': c.online}, tv('online', c.online))),
        h('td', {title: c.last_error || ''}, tv('why', c.why_not)),
        h('td', {}, showTime(c.since, lang(), false))));
    }
  }
  if (!rows.length) return card(t('opsNotRecording'), h('p', {}, t('opsAllRecording')));
  return card(t('opsNotRecording'), h('table', {class: 'data', id: 'not-recording'},
    h('thead', {}, h('tr', {}, [t('opsSite'), t('opsCamera'), t('opsRoom'), t('state'),
      t('opsCause'), t('opsSince')].map((x) => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows)));
}

function storageCard(spool) {
  return card(t('opsStorage'), h('dl', {class: 'facts'},
    h('dt', {}, t('opsSpool')), h('dd', {id: 'spool-bytes'},
      `${bytes(spool.bytes)} (${spool.segments})`),
    h('dt', {}, t('opsOldest')), h('dd', {}, spool.oldest_unuploaded
      ? showTime(spool.oldest_unuploaded, lang()) : t('none')),
    h('dt', {}, t('opsUploadLag')), h('dd', {}, duration(spool.upload_lag_s))));
}

function healthCard(health) {
  const diskLine = (d) => (d && d.ok ? t('opsFree', {free: bytes(d.free_bytes),
    total: bytes(d.total_bytes)}) : '—');
  return card(t('opsHealth'), h('dl', {class: 'facts'},
    h('dt', {}, t('opsDatabase')), h('dd', {}, okBadge(health.database.ok)),
    h('dt', {}, t('opsStore')), h('dd', {}, okBadge(health.store.ok)),
    h('dt', {}, t('opsDisk')), h('dd', {}, diskLine(health.disk.data),
      health.disk.store ? h('br') : null, health.disk.store ? diskLine(health.disk.store) : null),
    h('dt', {}, t('opsRecorders')), h('dd', {}, health.recorders.length
      ? health.recorders.map((r) => h('div', {}, h('span', {class: `badge ${r.alive
        ? 'hs-ok' : 'hs-bad'}`}, tv('alive', String(r.alive))), ' ', r.id, ' ',
      h('small', {class: 'muted'}, duration(r.age_s))))
      : h('span', {class: 'badge hs-bad'}, t('opsNever')))));
}

function forecastCard(f) {
  return card(t('opsForecast'), h('p', {}, t('opsRate', {rate: bytes(f.bytes_per_day)})),
    h('p', {}, f.store_days === null ? '—' : t('opsForecastStore', {d: f.store_days})),
    h('p', {}, f.spool_hours === null ? '—'
      : t('opsForecastSpool', {h: duration(f.spool_hours * 3600)})));
}

function findingsCard(findings) {
  if (!findings.items.length) {
    return card(t('opsFindings'), h('p', {class: 'muted'}, t('opsNoFindings')));
  }
  const counts = Object.entries(findings.counts).map(([k, n]) => h('span',
    {class: 'badge hs-warn'}, `${tv('finding', k)} ${n}`));
  return card(t('opsFindings'), h('p', {}, counts),
    table([t('opsCamera'), t('kind'), t('detail')], findings.items.slice(0, 50).map((f) => [
      f.name || '—', tv('finding', f.kind), f.message])));
}

function deployCard(dep, rollout) {
  const depPart = dep ? h('dl', {class: 'facts'},
    h('dt', {}, t('opsApplied')), h('dd', {}, showTime(dep.applied_at, lang())),
    h('dt', {}, t('opsSha')), h('dd', {}, h('code', {}, dep.config_sha256.slice(0, 16))))
    : h('p', {class: 'muted'}, t('opsNever'));
  const rollPart = rollout ? h('dl', {class: 'facts'},
    h('dt', {}, t('opsApplied')), h('dd', {}, showTime(rollout.at, lang())),
    h('dt', {}, t('opsResult')), h('dd', {}, Object.entries(rollout.summary || {})
      .map(([k, n]) => `${k}: ${n}`).join(', ')),
    ...(rollout.failed || []).slice(0, 10).map((f) => [h('dt', {}, f.camera),
      h('dd', {}, `${f.status} ${f.error || ''}`)]))
    : h('p', {class: 'muted'}, t('opsNever'));
  return card(t('opsDeploy'), depPart, h('h3', {}, t('opsRollout')), rollPart);
}

function camerasCard(cams) {
  const bySite = new Map();
  for (const c of cams) {
    if (!bySite.has(c.site)) bySite.set(c.site, []);
    bySite.get(c.site).push(c);
  }
  const rows = [];
  for (const [, list] of bySite) {
    list.forEach((c, i) => rows.push(h('tr', {'data-camera': c.id,
      'data-health': healthClass(c.health)},
    i === 0 ? h('th', {scope: 'rowgroup', rowspan: list.length}, c.site_name) : null,
    h('td', {}, c.name), h('td', {}, c.room_name), h('td', {class: 'health'}, badges(c.health)),
    h('td', {class: 'figs'}, figures(c.health)))));
  }
  return h('section', {class: 'card', 'aria-label': t('camerasTitle')},
    h('h2', {}, t('camerasTitle')), h('table', {class: 'data cams', id: 'ops-cameras'},
      h('thead', {}, h('tr', {}, [t('opsSite'), t('opsCamera'), t('opsRoom'), t('state'),
        t('healthFigures')].map((x) => h('th', {scope: 'col'}, x)))),
      h('tbody', {}, rows)));
}

function draw(view, o) {
  const stopped = o.totals.cameras - o.totals.recording - o.totals.not_recorded;
  replace(view, h('h1', {}, t('opsTitle'), ' ', h('small', {class: 'muted', id: 'ops-at'},
    t('opsRefreshed', {at: showTime(o.at, lang())}))),
  h('p', {id: 'ops-summary'}, t('opsSummary', {total: o.totals.cameras,
    online: o.totals.online, recording: o.totals.recording, stopped,
    skipped: o.totals.not_recorded})),
  h('div', {class: 'ops-grid'}, alarmsCard(o.alarms), storageCard(o.spool),
    healthCard(o.health), forecastCard(o.forecast), deployCard(o.deployment, o.rollout)),
  notRecordingCard(o.sites), findingsCard(o.findings), camerasCard(o.cameras));
}

export async function render(view, {notify, current}) {
  let timer = null;
  let stopped = false;
  const load = async () => {
    try {
      const o = await getJson('/ops/overview');
      if (!stopped && current()) draw(view, o);
    } catch (err) {
      if (!stopped) notify(err.message);
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  };
  await load();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
