// Past footage: a camera, a Tokyo time range, a scrubbable timeline and continuous playback.
//
// The player plays clip.mp4 windows of CLIP_MS from the position asked for; the recordings
// listing of the same window maps the video's own time back to wall-clock time (clips close
// gaps up), and at a window's end the next one follows, so playback runs across segments.

import {getJson, mediaUrl} from '../api.js';
import {field, h, replace, table} from '../dom.js';
import {lang, t, tv} from '../i18n.js';
import {showTime, tokyoInputToUtc, utcToTokyoInput} from '../time.js';
import {ZOOMS, createTimeline} from '../timeline.js';

const MIN_REASON = 4;
const CLIP_MS = 10 * 60e3;
const SPEEDS = [0.5, 1, 2, 4, 8, 16];
const FRAME_S = 1 / 15;

function defaultRange(params) {
  const end = params.get('end') ? new Date(params.get('end')) : new Date();
  const start = params.get('start') ? new Date(params.get('start'))
    : new Date(end.getTime() - 3600 * 1000);
  return [utcToTokyoInput(start), utcToTokyoInput(end)];
}

function zoomFor(ms) {
  return ms > ZOOMS[1].ms ? ZOOMS[0] : ms > ZOOMS[2].ms ? ZOOMS[1] : ZOOMS[2];
}

function gapTable(spans) {
  const gaps = spans.filter((s) => s.kind === 'gap');
  if (!gaps.length) return null;
  return table([t('start'), t('end'), t('gapCause')], gaps.map((g) => [
    showTime(g.start, lang()), showTime(g.end, lang()),
    tv('cause', g.cause) + (g.detail ? ` (${g.detail})` : '')]), t('gaps'));
}

/** Wall-clock ms of a video time in a clip made of `pieces` ([from, to] ms, in order). */
function wallOf(pieces, seconds) {
  let left = seconds * 1000;
  for (const [from, to] of pieces) {
    if (left < to - from) return from + left;
    left -= to - from;
  }
  return pieces.length ? pieces[pieces.length - 1][1] : null;
}

/** The video time (s) showing wall-clock ms in the clip, or null outside it. */
function videoTimeOf(pieces, ms) {
  let before = 0;
  for (const [from, to] of pieces) {
    if (ms >= from && ms < to) return (before + ms - from) / 1000;
    before += to - from;
  }
  return null;
}

/**
 * The player and timeline for one camera. opts: camera, reason() (or null), notify, start
 * (ms to show first), onUserSeek(ms) (a seek on the timeline; default: this player seeks),
 * noKeys (no keyboard shortcuts: several players on one page), range ([start, end] ms: a
 * fixed window, e.g. an incident grant's footage range). Returns {el, seek, dispose}.
 */
export function createPlayer(opts) {
  const video = h('video', {id: opts.id || 'player', class: 'player',
    'aria-label': t('playbackTitle'), playsinline: true});
  const clock = h('output', {class: 'clock', id: opts.id ? `${opts.id}-clock` : 'clock'});
  const clip = {pieces: [], start: 0, end: 0};
  const timeline = createTimeline({camera: opts.camera, reason: opts.reason, range: opts.range,
    notify: opts.notify, onSeek: (ms) => (opts.onUserSeek ? opts.onUserSeek(ms) : seek(ms))});
  let wall = null;

  video.addEventListener('error', () => {
    if (video.getAttribute('src')) opts.notify(t('videoError'));
  });

  async function load(ms, play = true) {
    const end = opts.range ? Math.min(ms + CLIP_MS, opts.range[1]) : ms + CLIP_MS;
    const q = {start: new Date(ms).toISOString(), end: new Date(end).toISOString(),
      reason: opts.reason()};
    const listing = await getJson(`/cameras/${encodeURIComponent(opts.camera)}/recordings`,
      {params: q});
    clip.pieces = listing.segments.map((s) => [Math.max(ms, Date.parse(s.start)),
      Math.min(end, Date.parse(s.end))]).filter(([a, b]) => b > a);
    if (!clip.pieces.length) throw new Error(t('noFootageHere'));
    clip.start = ms;
    clip.end = end;
    const rate = video.playbackRate;
    video.src = await mediaUrl(opts.camera, 'clip.mp4', q);
    video.playbackRate = rate;
    show(clip.pieces[0][0]);
    if (play) video.play().catch(() => {});
  }

  function show(ms) {
    wall = ms;
    clock.value = ms === null ? '' : showTime(new Date(ms), lang());
    clock.dataset.ms = ms === null ? '' : String(Math.round(ms));
    const [ws, we] = timeline.window;
    if (ms !== null && (ms < ws || ms >= we)) timeline.show(ms).catch((e) => opts.notify(e.message));
    timeline.playhead(ms);
    opts.onTime?.(ms);
  }

  async function seek(ms, play = true) {
    const inClip = videoTimeOf(clip.pieces, ms);
    if (inClip !== null && video.getAttribute('src')) {
      video.currentTime = inClip;
      show(ms);
      if (play) video.play().catch(() => {});
      return;
    }
    try {
      await load(ms, play);
    } catch (err) {
      opts.notify(err.message);
    }
  }

  video.addEventListener('timeupdate', () => {
    if (clip.pieces.length) show(wallOf(clip.pieces, video.currentTime));
  });
  video.addEventListener('ended', () => {
    // continuous playback: the next window starts where this one ended
    const next = timeline.recordedFrom(clip.end);
    if (next !== null) load(next).catch((err) => opts.notify(err.message));
    else load(clip.end).catch(() => {});
  });

  const speed = h('select', {class: 'speed', 'aria-label': t('speed')},
    SPEEDS.map((s) => h('option', {value: s, selected: s === 1}, `${s}x`)));
  speed.addEventListener('change', () => { video.playbackRate = Number(speed.value); });

  function jump(seconds) {
    if (wall !== null) seek(wall + seconds * 1000, !video.paused);
  }
  function step(frames) {
    video.pause();
    video.currentTime = Math.max(0, video.currentTime + frames * FRAME_S);
  }
  function toggle() {
    if (!video.getAttribute('src')) {
      const from = timeline.recordedFrom(wall ?? timeline.window[0]);
      if (from !== null) seek(from);
      else opts.notify(t('noFootageHere'));
      return;
    }
    if (video.paused) video.play().catch(() => {});
    else video.pause();
  }
  function faster(by) {
    const i = Math.min(SPEEDS.length - 1, Math.max(0, SPEEDS.indexOf(video.playbackRate) + by));
    video.playbackRate = SPEEDS[i];
    speed.value = String(SPEEDS[i]);
  }
  function zoom(i) {
    timeline.show(wall ?? timeline.window[0], ZOOMS[i]).then(() => timeline.playhead(wall))
      .catch((e) => opts.notify(e.message));
  }
  function shift(sign) {
    const [ws] = timeline.window;
    timeline.show(ws + sign * timeline.zoom.ms).then(() => timeline.playhead(wall))
      .catch((e) => opts.notify(e.message));
  }

  const button = (id, label, fn, cls = 'secondary') => {
    const b = h('button', {type: 'button', class: cls, id: opts.id ? `${opts.id}-${id}` : id,
      title: label, 'aria-label': label}, label);
    b.addEventListener('click', fn);
    return b;
  };
  const controls = h('div', {class: 'toolbar player-controls'},
    button('play', t('play'), toggle, ''),
    button('back10', t('back10'), () => jump(-10)), button('fwd10', t('fwd10'), () => jump(10)),
    button('frame-back', t('frameBack'), () => step(-1)),
    button('frame-fwd', t('frameFwd'), () => step(1)),
    h('label', {}, `${t('speed')} `, speed), h('span', {}, `${t('nowShowing')}: `), clock);
  const zooms = h('div', {class: 'toolbar zooms', role: 'group', 'aria-label': t('zoom')},
    button('prev-window', `◀ ${t('prevWindow')}`, () => shift(-1)),
    ZOOMS.map((z, i) => button(`zoom-${z.key}`, t(`zoom_${z.key}`), () => zoom(i))),
    button('next-window', `${t('nextWindow')} ▶`, () => shift(1)));

  function onKey(e) {
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(e.target.tagName)) return;
    const keys = {' ': toggle, ArrowLeft: () => jump(-10), ArrowRight: () => jump(10),
      ',': () => step(-1), '.': () => step(1), '[': () => faster(-1), ']': () => faster(1),
      1: () => zoom(0), 2: () => zoom(1), 3: () => zoom(2)};
    const fn = keys[e.key];
    if (fn && !opts.noKeys) {
      e.preventDefault();
      fn();
    }
  }
  document.addEventListener('keydown', onKey);

  const el = h('div', {class: 'player-box'}, opts.range ? null : zooms, timeline.el, controls,
    video,
    h('p', {class: 'hint'}, t('shortcuts')));
  return {
    el, video, timeline, seek, load, camera: opts.camera,
    get position() { return wall; },
    show: (ms, z) => timeline.show(ms, z),
    dispose() {
      document.removeEventListener('keydown', onKey);
      timeline.dispose();
      video.removeAttribute('src');
      video.load();
    },
  };
}

export function render(view, {session, params, notify}) {
  const cams = session.cameras.filter((c) => c.actions.includes('playback'));
  const manager = ['department-head', 'division-manager'].includes(session.me.role);
  const [from0, to0] = defaultRange(params);
  const camera = field(t('camera'), h('select', {name: 'camera', required: true},
    cams.map((c) => h('option', {value: c.id, selected: c.id === params.get('camera')},
      c.name))));
  const from = field(t('from'), h('input', {type: 'datetime-local', name: 'start',
    value: from0, required: true, step: 1}));
  const to = field(t('to'), h('input', {type: 'datetime-local', name: 'end', value: to0,
    required: true, step: 1}));
  const reason = manager ? field(t('reason'), h('input', {name: 'reason', required: true,
    minlength: MIN_REASON, maxlength: 2000, value: params.get('reason') || ''}), t('reasonHint'))
    : null;
  const find = h('button', {type: 'submit', id: 'find'}, t('showTimeline'));
  const result = h('section', {class: 'card', 'aria-live': 'polite', hidden: true});
  let player = null;

  function query() {
    const start = tokyoInputToUtc(from.input.value);
    const end = tokyoInputToUtc(to.input.value);
    if (!start || !end || end <= start) throw new Error(t('rangeInvalid'));
    const why = reason ? reason.input.value.trim() : '';
    if (reason && why.length < MIN_REASON) throw new Error(t('reasonRequired'));
    return {start, end, reason: why || null};
  }

  async function search(event) {
    event?.preventDefault();
    notify('');
    let q;
    try {
      q = query();
    } catch (err) {
      notify(err.message);
      return;
    }
    const id = camera.input.value;
    find.disabled = true;
    player?.dispose();
    player = createPlayer({camera: id, reason: () => q.reason, notify});
    const gaps = h('div', {class: 'gap-table'});
    player.timeline.el.addEventListener('timeline', (e) => replace(gaps, gapTable(e.detail.spans)));
    const name = cams.find((c) => c.id === id)?.name || id;
    replace(result, h('h2', {}, t('timelineOf', {camera: name})), player.el, gaps);
    result.hidden = false;
    try {
      // the zoom that holds the range, on the window around its middle
      const startMs = Date.parse(q.start);
      const endMs = Date.parse(q.end);
      await player.show((startMs + endMs) / 2, zoomFor(endMs - startMs));
    } catch (err) {
      notify(err.message);
    } finally {
      find.disabled = false;
    }
  }

  const form = h('form', {novalidate: true, class: 'card', id: 'playback-form'},
    h('div', {class: 'row'}, camera.row, from.row, to.row), reason?.row, find);
  form.addEventListener('submit', search);
  replace(view, h('h1', {}, t('playbackTitle')), form, result);
  if (params.get('camera') && params.get('start') && (!manager || params.get('reason'))) search();
  return () => player?.dispose();
}
