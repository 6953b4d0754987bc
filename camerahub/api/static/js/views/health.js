// Camera health shown the same way in the camera list and the ops console: badges for
// online/offline and recording (since when, why not), and short figures.

import {h} from '../dom.js';
import {lang, t, tv} from '../i18n.js';
import {showTime} from '../time.js';

/** "12 s", "5 min", "3 h", "2 d" in the current language. */
export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  const s = Math.round(seconds);
  if (s < 120) return t('durS', {n: s});
  if (s < 7200) return t('durMin', {n: Math.round(s / 60)});
  if (s < 172800) return t('durH', {n: Math.round(s / 3600)});
  return t('durD', {n: Math.round(s / 86400)});
}

/** An alarm in the current language: its kind, the camera (or subject) and why. */
export function alarmText(a) {
  const why = a.data && a.data.why_not ? ` (${tv('why', a.data.why_not)})` : '';
  return a.camera ? `${tv('alarm', a.kind)}: ${a.camera}${why}` : `${tv('alarm', a.kind)}: ${a.message}`;
}

/** Bits per second as kbit/s or Mbit/s. */
export function bitrate(bps) {
  if (!bps) return '—';
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(1)} Mbit/s` : `${Math.round(bps / 1e3)} kbit/s`;
}

/** Bytes as MB/GB/TB. */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** The filter class of a camera: recording, not_recording or offline. */
export function healthClass(health) {
  if (!health) return 'unknown';
  if (health.online === 'offline') return 'offline';
  return health.recording ? 'recording' : 'not_recording';
}

/** Badges: online/offline, recording or why not (with since when). */
export function badges(health) {
  if (!health) return [h('span', {class: 'badge info'}, t('stateUnknown'))];
  const online = health.online === 'online' ? 'ok'
    : ['offline', 'untrusted'].includes(health.online) ? 'bad' : 'info';
  const out = [h('span', {class: `badge hs-${online}`, 'data-online': health.online},
    tv('online', health.online))];
  if (health.recording) {
    out.push(h('span', {class: 'badge hs-ok', 'data-recording': 'yes'}, t('recordingNow')));
  } else {
    out.push(h('span', {class: 'badge hs-bad', 'data-recording': 'no',
      title: health.last_error || ''},
    `${t('notRecording')}: ${tv('why', health.why_not)}`));
  }
  if (health.since) {
    out.push(h('small', {class: 'muted since'}, t('sinceTime', {at: showTime(health.since,
      lang(), false)})));
  }
  return out;
}

/** Short figures: segment age, bitrate, clock skew, last finding. */
export function figures(health) {
  if (!health) return [];
  const out = [h('span', {class: 'fig'}, `${t('segmentAge')}: ${duration(health
    .last_segment_age_s)}`), h('span', {class: 'fig'}, `${t('bitrate')}: ${bitrate(health
    .bitrate_bps)}`)];
  if (health.clock_skew_s !== null && health.clock_skew_s !== undefined) {
    const skew = Math.abs(health.clock_skew_s) >= 2 ? 'hs-warn' : '';
    out.push(h('span', {class: `fig ${skew}`}, `${t('clockSkew')}: ${health.clock_skew_s
      .toFixed(1)} s`));
  }
  if (health.finding) {
    out.push(h('span', {class: `badge hs-warn`, title: health.finding.message},
      tv('finding', health.finding.kind)));
  }
  return out;
}
