// Live wall: tiles of 1/4/9/16/25 cameras, each a <video> fed through Media Source
// Extensions (fMP4, one fragment per frame). The page opens ONE WebSocket for all its tiles
// (a browser opens sockets to a server one at a time, so one per tile started them one
// after another): each tile subscribes on it with its camera's media token and receives
// its messages by tile number. Page switches and sequences keep the socket.

import {getJson, request} from '../api.js';
import {field, h, replace} from '../dom.js';
import {t} from '../i18n.js';

const LAYOUTS = [1, 4, 9, 16, 25];
const RETRY_MS = 3000;
const MAX_LAG_S = 0.8; // behind the newest buffered frame by more than this: jump forward
const EDGE_S = 0.15; // where a jump lands, before the newest frame
const KEEP_S = 8; // buffered video kept behind the playhead
// each binary message opens with its tile (uint16) and the hub's receive time (float64, ms)
const HEADER_BYTES = 10;
const MAX_TILE = 65535;
const STALL_MS = 10000; // a picture that stopped moving this long: reconnect

function wallUrl() {
  const url = new URL('/api/v1/live/wall.ws', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.href;
}

/** The page's one WebSocket: tiles subscribe on it; messages go to their tile. */
class WallSocket {
  constructor() {
    this.ws = null;
    this.tiles = new Map(); // tile number -> Tile
    this.next = 1;
    this.outbox = []; // control messages written before the socket opened
  }

  connect() {
    if (this.ws) return;
    const ws = new WebSocket(wallUrl());
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.tiles.forEach((tile) => tile.mark('socket'));
      this.outbox.forEach((text) => ws.send(text));
      this.outbox = [];
    };
    ws.onmessage = (ev) => this.dispatch(ev.data);
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.outbox = [];
      const tiles = [...this.tiles.values()];
      this.tiles.clear();
      tiles.forEach((tile) => tile.closed()); // each retries, on a new socket
    };
  }

  send(message) {
    const text = JSON.stringify(message);
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    else this.outbox.push(text);
  }

  /** Subscribe a tile to a camera; its tile number. */
  subscribe(tile, cameraId, accessToken, profile) {
    this.connect();
    while (this.tiles.has(this.next)) this.next = this.next >= MAX_TILE ? 1 : this.next + 1;
    const id = this.next;
    this.next = this.next >= MAX_TILE ? 1 : this.next + 1;
    this.tiles.set(id, tile);
    if (this.ws.readyState === WebSocket.OPEN) tile.mark('socket');
    const message = {type: 'subscribe', tile: id, camera: cameraId, access_token: accessToken};
    if (profile) message.profile = profile;
    this.send(message);
    return id;
  }

  unsubscribe(id) {
    if (this.tiles.delete(id)) this.send({type: 'unsubscribe', tile: id});
  }

  refresh(id, accessToken) {
    if (this.tiles.has(id)) this.send({type: 'token', tile: id, access_token: accessToken});
  }

  dispatch(data) {
    if (typeof data === 'string') {
      const msg = JSON.parse(data);
      const tile = this.tiles.get(msg.tile);
      if (!tile) return; // an error (the socket closes next) or a tile already left
      if (msg.type === 'end') {
        this.tiles.delete(msg.tile);
        tile.ended = msg;
        tile.closed();
      } else {
        tile.control(msg);
      }
      return;
    }
    const tile = this.tiles.get(new DataView(data).getUint16(0));
    if (tile) tile.binary(data);
  }

  close() {
    const ws = this.ws;
    this.ws = null;
    this.tiles.clear();
    if (ws) ws.close();
  }
}

async function mediaToken(cameraId) {
  return getJson(`/cameras/${encodeURIComponent(cameraId)}/media-token`, {method: 'POST'});
}

/** Every new tile's token in one request (not one per tile through six connections). */
async function startAll(tiles) {
  if (tiles.length < 2) {
    tiles.forEach((tile) => tile.start());
    return;
  }
  let batch = null;
  try {
    batch = await getJson('/live/media-tokens',
      {method: 'POST', json: {cameras: tiles.map((tile) => tile.cam.id)}});
  } catch {
    batch = null; // each tile asks for its own
  }
  tiles.forEach((tile) => tile.start(batch && batch.tokens[tile.cam.id],
    batch && batch.refused[tile.cam.id]));
}

/** The 64-bit tfdt of a per-frame fragment written by the hub (moof > traf > tfdt). */
function decodeTime(view) {
  return Number(view.getBigUint64(60));
}

/** The timescale of an init segment (moov > trak > mdia > mdhd). */
function timescaleOf(bytes) {
  const at = indexOf(bytes, [0x6d, 0x64, 0x68, 0x64]); // 'mdhd'
  if (at < 0) return 90000;
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  return view.getUint32(at + 4 + (bytes[at + 4] === 1 ? 20 : 12));
}

function indexOf(bytes, pattern) {
  outer: for (let i = 0; i + pattern.length <= bytes.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

class Tile {
  constructor(cam, {onEnlarge, wall, profile = null}) {
    this.cam = cam;
    this.wall = wall;
    this.sub = null; // the tile's number on the wall socket while subscribed
    this.profile = profile;
    this.stopped = false;
    this.timer = null;
    this.video = h('video', {muted: true, autoplay: true, playsinline: true,
      'aria-label': `${t('liveTitle')}: ${cam.name}`, 'data-camera': cam.id,
      'data-state': 'connecting'});
    this.video.muted = true;
    this.status = h('div', {class: 'tile-status', role: 'status'}, t('liveState_connecting'));
    this.el = h('figure', {class: 'tile', 'data-camera': cam.id}, this.video, this.status,
      h('figcaption', {}, cam.name, ' ', h('small', {}, cam.room_name)));
    this.el.addEventListener('dblclick', () => onEnlarge(this.cam));
    this.latencies = [];
    // When each start-up step happened (performance.now(), ms since the page opened): where
    // a tile's first picture spends its time, read by the browser test and the benchmark.
    this.marks = {};
    this.video.liveMarks = this.marks;
    this.video.liveShown = []; // [hub receive ms, display ms] of recent frames, for tests
    this.stamps = new Map(); // media time (ms) -> hub receive time (ms since the epoch)
    this.video.addEventListener('playing', () => {
      this.firstPicture();
      this.setState('playing');
    });
    this.video.addEventListener('error', () => {
      if (!this.stopped && this.sub) this.fail('ended', true);
    });
    this.lastTime = -1;
    this.lastMove = Date.now();
    this.watchdog = setInterval(() => this.checkStall(), STALL_MS / 4);
    this.watchFrames();
  }

  /** Reconnect a tile whose picture stopped without an error or an end message. */
  checkStall() {
    if (this.stopped || !this.sub) return;
    if (this.video.currentTime !== this.lastTime) {
      this.lastTime = this.video.currentTime;
      this.lastMove = Date.now();
    } else if (Date.now() - this.lastMove > STALL_MS) {
      this.lastMove = Date.now();
      this.fail('ended', true);
    }
  }

  mark(step) {
    if (this.marks[step] === undefined) this.marks[step] = Math.round(performance.now());
  }

  /** The first frame is on screen: from the tile's start, and since the page opened. */
  firstPicture() {
    if (this.video.dataset.firstFrameMs) return;
    this.mark('picture');
    this.video.dataset.firstFrameMs = String(Math.round(performance.now() - this.began));
    this.video.dataset.firstPictureAt = String(Math.round(performance.now()));
  }

  setState(state, message) {
    this.state = state;
    this.video.dataset.state = state;
    this.el.dataset.state = state;
    this.status.textContent = message || t(`liveState_${state}`);
    this.status.hidden = state === 'playing';
  }

  /** Read back, at display, when the hub received each shown frame (latency figures). */
  watchFrames() {
    if (!this.video.requestVideoFrameCallback) return;
    const onFrame = (now, meta) => {
      if (this.stopped) return;
      this.firstPicture();
      const stamp = this.stamps.get(Math.round(meta.mediaTime * 1000));
      if (stamp) {
        const shown = performance.timeOrigin + meta.expectedDisplayTime;
        this.video.liveShown.push([stamp, shown]);
        if (this.video.liveShown.length > 300) this.video.liveShown.shift();
        this.latencies.push(shown - stamp);
        if (this.latencies.length > 50) this.latencies.shift();
        const sorted = [...this.latencies].sort((a, b) => a - b);
        this.video.dataset.latencyMs = String(Math.round(sorted[sorted.length >> 1]));
        this.video.dataset.framesShown = String(Number(this.video.dataset.framesShown || 0) + 1);
      }
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  /** Show the tile connecting (its token is being asked for). */
  starting() {
    this.began = this.began || performance.now();
    this.mark('start');
    this.setState('connecting');
  }

  /** Connect with a token already issued (startAll), or ask for one. */
  async start(given = null, refused = null) {
    if (this.stopped) return;
    this.starting();
    if (refused) {
      this.fail('denied', true);
      return;
    }
    let issued = given;
    try {
      issued = issued || await mediaToken(this.cam.id);
    } catch (err) {
      this.fail(err.status === 404 || err.status === 403 ? 'denied' : 'offline', true);
      return;
    }
    if (this.stopped) return;
    this.mark('token');
    // a poster at once: the hub's recent keyframe (never a camera session of its own); the
    // wall's tokens came in one request, so the posters hold up no token request
    const poster = new URL(`/api/v1/cameras/${encodeURIComponent(this.cam.id)}/snapshot.jpg`,
      location.href);
    poster.searchParams.set('recent', 'true');
    poster.searchParams.set('access_token', issued.access_token);
    if (!this.video.poster) this.video.poster = poster.pathname + poster.search;
    this.open(issued.access_token, issued.expires_in);
  }

  open(accessToken, expiresIn) {
    this.lastMove = Date.now(); // the stall watchdog counts from the new connection
    const media = new MediaSource();
    this.media = media;
    this.queue = [];
    this.buffer = null;
    this.codec = null;
    this.video.src = URL.createObjectURL(media);
    media.addEventListener('sourceopen', () => {
      URL.revokeObjectURL(this.video.src);
      if (this.media !== media || this.stopped) return;
      this.mark('source');
      this.attach();
    }, {once: true});
    // The subscription goes out at once, beside the MediaSource (not after it): what
    // arrives before the source is open waits in the queue.
    this.sub = this.wall.subscribe(this, this.cam.id, accessToken, this.profile);
    this.refresh = setTimeout(() => this.refreshToken(), Math.max(30, expiresIn / 2) * 1000);
  }

  /** The SourceBuffer, once the MediaSource is open and the server named the codec. */
  attach() {
    const media = this.media;
    if (this.buffer || !this.codec || !media || media.readyState !== 'open' || this.stopped) {
      return;
    }
    this.buffer = media.addSourceBuffer(`video/mp4; codecs="${this.codec}"`);
    this.buffer.mode = 'segments';
    this.buffer.addEventListener('updateend', () => this.pump());
    this.pump();
  }

  /** Send a fresh media token before the current one expires (the server re-checks it). */
  async refreshToken() {
    if (this.stopped || !this.sub) return;
    try {
      const issued = await mediaToken(this.cam.id);
      if (this.sub) this.wall.refresh(this.sub, issued.access_token);
      this.refresh = setTimeout(() => this.refreshToken(),
        Math.max(30, issued.expires_in / 2) * 1000);
    } catch {
      // the session ends when the old token expires; the tile reconnects then
    }
  }

  /** A JSON message for this tile (its end goes to closed()). */
  control(msg) {
    if (msg.type === 'start') {
      this.mark('started');
      this.codec = msg.codec;
      this.attach();
    }
  }

  /** A binary message for this tile: its header, then the init segment or one fragment. */
  binary(data) {
    const stamp = new DataView(data).getFloat64(2);
    const body = new Uint8Array(data, HEADER_BYTES);
    if (stamp === 0) {
      this.mark('init');
      this.timescale = timescaleOf(body);
    } else if (this.timescale) {
      this.mark('frame');
      const at = decodeTime(new DataView(data, HEADER_BYTES));
      this.stamps.set(Math.round((at / this.timescale) * 1000), stamp);
      if (this.stamps.size > 600) this.stamps.delete(this.stamps.keys().next().value);
    }
    this.queue.push(body);
    this.pump();
  }

  pump() {
    const sb = this.buffer;
    if (!sb || sb.updating || this.stopped) return;
    this.keepNearEdge();
    // keepNearEdge may have started removing old video: appending now would throw
    // (InvalidStateError) and restart a healthy tile; updateend pumps again
    if (this.queue.length === 0 || sb.updating) return;
    const size = this.queue.reduce((n, b) => n + b.length, 0);
    const all = new Uint8Array(size);
    let at = 0;
    for (const b of this.queue) { all.set(b, at); at += b.length; }
    this.queue = [];
    try {
      sb.appendBuffer(all);
    } catch (err) {
      // quota or a decode error: start again from a keyframe (counted, for the bench)
      this.video.dataset.restarts = String(Number(this.video.dataset.restarts || 0) + 1);
      this.video.dataset.restartError = err.name;
      this.restart();
    }
  }

  /** Play close to the newest frame: jump forward when behind; drop old buffered video. */
  keepNearEdge() {
    const sb = this.buffer;
    const b = sb.buffered;
    if (!b.length) return;
    const end = b.end(b.length - 1);
    const v = this.video;
    if (end - v.currentTime > MAX_LAG_S || v.currentTime < b.start(b.length - 1)) {
      v.currentTime = Math.max(b.start(b.length - 1), end - EDGE_S);
    }
    if (v.paused) v.play().catch(() => {});
    if (v.currentTime - b.start(0) > KEEP_S * 2) {
      sb.remove(b.start(0), v.currentTime - KEEP_S);
    }
  }

  /** The tile's subscription ended (its end message, or the socket closed). */
  closed() {
    const end = this.ended;
    this.sub = null;
    clearTimeout(this.refresh);
    if (this.stopped) return;
    if (end && ['not-permitted', 'not-found', 'unauthenticated'].includes(end.reason)) {
      this.fail('denied', false, this.state === 'playing' ? t('liveCut') : null);
    } else if (end && end.reason === 'unavailable') {
      this.fail('offline', true);
    } else {
      this.fail('ended', true);
    }
  }

  fail(state, retry, message) {
    this.setState(state, message);
    this.el.dataset.endReason = (this.ended && this.ended.reason) || state;
    this.teardown();
    if (retry && !this.stopped) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => { this.ended = null; this.start(); }, RETRY_MS);
    }
  }

  restart() {
    this.teardown();
    this.start();
  }

  teardown() {
    clearTimeout(this.refresh);
    if (this.sub) {
      const id = this.sub;
      this.sub = null;
      this.wall.unsubscribe(id);
    }
    this.buffer = null;
    this.media = null;
    this.codec = null;
    this.queue = [];
    if (this.video.getAttribute('src')) {
      this.video.removeAttribute('src');
      this.video.load();
    }
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.watchdog);
    this.teardown();
  }
}

function floorName(floor) {
  return floor === null || floor === undefined ? '' : t('floorN', {n: floor});
}

export function render(view, {params, session, notify}) {
  const cams = session.cameras.filter((c) => c.actions.includes('live'));
  const wanted = params.get('camera');
  const layout = Number(params.get('layout')); // #/live?layout=25 opens that grid at once
  const state = {site: '', floor: '', room: '',
    size: wanted ? 1 : (LAYOUTS.includes(layout) ? layout : 16), page: 0,
    enlarged: wanted ? cams.find((c) => c.id === wanted) || null : null, cycle: 0};
  let tiles = new Map(); // camera id (+ profile) -> Tile, reused across pages and layouts
  const wall = new WallSocket(); // one socket for every tile, across pages and layouts
  let cycleTimer = null;

  const options = (values, all, label) => [h('option', {value: ''}, all),
    ...values.map(([v, text]) => h('option', {value: v}, label ? label(text) : text))];
  const uniq = (list) => [...new Map(list).entries()];
  const site = field(t('liveSite'), h('select', {name: 'site'},
    options(uniq(cams.map((c) => [c.site, c.site_name || c.site])), t('allSites'))));
  const floor = field(t('liveFloor'), h('select', {name: 'floor'}));
  const room = field(t('liveRoom'), h('select', {name: 'room'}));
  const size = field(t('liveLayout'), h('select', {name: 'layout'},
    LAYOUTS.map((n) => h('option', {value: n, selected: n === state.size}, String(n)))));
  const cycle = field(t('liveSequence'), h('select', {name: 'cycle'},
    [0, 10, 20, 30, 60].map((n) => h('option', {value: n},
      n === 0 ? t('liveSequenceOff') : String(n)))));
  const pageInfo = h('span', {class: 'muted', 'aria-live': 'polite'});
  const prev = h('button', {type: 'button', class: 'secondary'}, t('prev'));
  const next = h('button', {type: 'button', class: 'secondary'}, t('next'));
  const back = h('button', {type: 'button', class: 'secondary', hidden: true}, t('liveBack'));
  const grid = h('div', {class: 'grid', id: 'live-grid'});
  const views = field(t('liveViews'), h('select', {name: 'view'}));
  const viewName = field(t('liveViewName'), h('input', {name: 'view-name', maxlength: 60}));
  const save = h('button', {type: 'button', class: 'secondary'}, t('liveViewSave'));
  const remove = h('button', {type: 'button', class: 'secondary'}, t('liveViewDelete'));
  let saved = [];

  function refillPlaces() {
    const inSite = cams.filter((c) => !state.site || c.site === state.site);
    const floors = [...new Set(inSite.map((c) => c.floor).filter((f) => f !== null && f !== undefined))]
      .sort((a, b) => a - b);
    replace(floor.input, ...options(floors.map((f) => [String(f), f]), t('allFloors'), floorName));
    floor.input.value = state.floor;
    const rooms = uniq(inSite.filter((c) => !state.floor || String(c.floor) === state.floor)
      .map((c) => [c.room, c.room_name]));
    replace(room.input, ...options(rooms, t('allRooms')));
    room.input.value = state.room;
  }

  function shown() {
    return cams.filter((c) => (!state.site || c.site === state.site) &&
      (!state.floor || String(c.floor) === state.floor) && (!state.room || c.room === state.room));
  }

  function draw() {
    let slice;
    let pages = 1;
    if (state.enlarged) {
      slice = [state.enlarged];
    } else {
      const list = shown();
      pages = Math.max(1, Math.ceil(list.length / state.size));
      state.page = ((state.page % pages) + pages) % pages;
      slice = list.slice(state.page * state.size, (state.page + 1) * state.size);
    }
    const profile = state.enlarged ? 'main' : null; // grids use the light sub stream
    const keep = new Map();
    for (const cam of slice) {
      const key = `${cam.id}|${profile || ''}`;
      const tile = tiles.get(key) || new Tile(cam, {onEnlarge: enlarge, wall, profile});
      keep.set(key, tile);
    }
    for (const [key, tile] of tiles) if (!keep.has(key)) tile.stop();
    const fresh = [...keep.entries()].filter(([key]) => !tiles.has(key)).map(([, tile]) => tile);
    tiles = keep;
    grid.className = `grid size-${state.enlarged ? 1 : state.size}`;
    replace(grid, ...[...tiles.values()].map((tile) => tile.el));
    fresh.forEach((tile) => tile.starting());
    startAll(fresh); // every tile at once, their tokens in one request
    pageInfo.textContent = `${t('page')} ${state.page + 1} / ${pages}`;
    prev.disabled = next.disabled = pages <= 1 || Boolean(state.enlarged);
    back.hidden = !state.enlarged || Boolean(wanted && cams.length === 1);
  }

  function enlarge(cam) {
    state.enlarged = state.enlarged ? null : cam;
    draw();
  }

  function setCycle(seconds) {
    state.cycle = seconds;
    clearInterval(cycleTimer);
    if (seconds > 0) cycleTimer = setInterval(() => { state.page += 1; draw(); }, seconds * 1000);
  }

  async function loadViews(select) {
    try {
      saved = await getJson('/live-views');
    } catch {
      saved = [];
    }
    replace(views.input, h('option', {value: ''}, t('liveViewNone')),
      ...saved.map((v) => h('option', {value: v.name}, v.name)));
    if (select) views.input.value = select;
  }

  function applyView(v) {
    Object.assign(state, {site: v.filters.site || '', floor: v.filters.floor || '',
      room: v.filters.room || '', size: v.layout, page: 0, enlarged: null});
    site.input.value = state.site;
    size.input.value = String(state.size);
    cycle.input.value = String(v.cycle_s || 0);
    refillPlaces();
    setCycle(v.cycle_s || 0);
    draw();
  }

  site.input.addEventListener('change', () => {
    Object.assign(state, {site: site.input.value, floor: '', room: '', page: 0});
    refillPlaces(); draw();
  });
  floor.input.addEventListener('change', () => {
    Object.assign(state, {floor: floor.input.value, room: '', page: 0});
    refillPlaces(); draw();
  });
  room.input.addEventListener('change', () => { state.room = room.input.value; state.page = 0; draw(); });
  size.input.addEventListener('change', () => {
    state.size = Number(size.input.value); state.enlarged = null; draw();
  });
  cycle.input.addEventListener('change', () => setCycle(Number(cycle.input.value)));
  prev.addEventListener('click', () => { state.page -= 1; draw(); });
  next.addEventListener('click', () => { state.page += 1; draw(); });
  back.addEventListener('click', () => { state.enlarged = null; draw(); });
  views.input.addEventListener('change', () => {
    const v = saved.find((x) => x.name === views.input.value);
    if (v) { viewName.input.value = v.name; applyView(v); }
  });
  save.addEventListener('click', async () => {
    const name = viewName.input.value.trim();
    if (!name) return;
    const body = {layout: state.size, cycle_s: state.cycle,
      filters: {site: state.site, floor: state.floor, room: state.room}};
    try {
      await request(`/live-views/${encodeURIComponent(name)}`, {method: 'PUT', json: body});
      notify(t('liveViewSaved', {name}), 'notice');
      await loadViews(name);
    } catch (err) {
      notify(err.message, 'error');
    }
  });
  remove.addEventListener('click', async () => {
    const name = views.input.value;
    if (!name) return;
    try {
      await request(`/live-views/${encodeURIComponent(name)}`, {method: 'DELETE'});
      await loadViews();
    } catch (err) {
      notify(err.message, 'error');
    }
  });

  replace(view, h('h1', {}, t('liveTitle')),
    h('div', {class: 'toolbar'}, site.row, floor.row, room.row, size.row, cycle.row, prev,
      pageInfo, next, back),
    h('div', {class: 'toolbar'}, views.row, viewName.row, save, remove),
    h('p', {class: 'muted small'}, t('liveEnlargeHint')), grid);
  refillPlaces();
  loadViews();
  draw();
  return () => {
    clearInterval(cycleTimer);
    tiles.forEach((tile) => tile.stop());
    wall.close();
  };
}
