// Every UI string in both languages; Japanese by default, the choice kept in localStorage.
// Screens with many strings keep them in strings/*.js, merged into the table below.

import live from './strings/live.js';
import ops from './strings/ops.js';
import records from './strings/records.js';
import review from './strings/review.js';

const STRINGS = {
  ja: {
    appName: '中野区 監視カメラシステム',
    langSwitch: 'English',
    signIn: 'サインイン', signOut: 'サインアウト', username: 'ユーザーID', password: 'パスワード',
    signInTitle: 'サインイン', signedInAs: '{name}（{role}）',
    navCameras: 'カメラ一覧', navLive: 'ライブ', navPlayback: '録画再生',
    navIncidents: 'インシデント', navAudit: 'アクセス記録',
    role_crisis_management: '危機管理', role_department_head: '部長',
    role_division_manager: '統括管理者', role_ops: '情報システム担当', role_auditor: '監査',
    loading: '読み込み中…', none: 'ありません', close: '閉じる',
    camerasTitle: 'カメラ一覧', cameraCount: '{n} 台', site: '拠点', room: '部屋', camera: 'カメラ',
    state: '状態', actions: '操作', stateUnknown: '不明',
    act_live: 'ライブ', act_playback: '録画再生', act_snapshot: '静止画', act_export: '書き出し',
    openLive: 'ライブ表示', openPlayback: '録画を見る', openSnapshot: '静止画',
    noCameras: '表示できるカメラはありません。',
    liveTitle: 'ライブ映像', liveSite: '拠点で絞り込み', allSites: 'すべての拠点', gridSize: '表示数',
    page: 'ページ', prev: '前へ', next: '次へ', connecting: '接続中…',
    liveFailed: '映像を受信できません。再接続します…', liveLimit:
      'ブラウザの同時接続数の制限のため、一度に表示できるのは最大4台です。',
    playbackTitle: '録画再生', from: '開始（日本時間）', to: '終了（日本時間）',
    reason: '閲覧理由', reasonHint: '統括管理者・部長は閲覧のたびに理由の記入が必要です（4文字以上）。',
    reasonRequired: '閲覧理由を4文字以上で入力してください。', showTimeline: '録画を検索',
    play: '再生', timeline: '録画タイムライン', segments: '録画', gaps: '欠落', held: '保全中',
    gapCause: '原因', segmentCount: '録画 {n} 件、欠落 {g} 件', noFootage: 'この範囲の録画はありません。',
    cause_camera_offline: 'カメラ接続不可', cause_camera_dropped: 'カメラ切断',
    cause_stream_stalled: '映像停止', cause_unauthorized: '認証拒否', cause_no_recording: '録画なし',
    cause_stream_error: '映像エラー', cause_recorder_down: '録画サーバ停止', cause_spool_full: '保存領域不足',
    cause_camera_bad_answer: 'カメラ応答異常', cause_internal: '録画サーバ内部エラー',
    cause_stream_invalid: '映像データ異常', cause_untrusted_certificate: 'カメラ証明書を信頼できない',
    rangeInvalid: '開始と終了を正しく入力してください（終了は開始より後）。',
    incidentsTitle: 'インシデント', incidentState: '状態', allStates: 'すべて',
    st_pending_approval: '承認待ち', st_open: '対応中', st_reviewing: '確認中', st_closed: '完了',
    approveIncident: '承認する（映像の閲覧を許可）',
    kind: '種別', kind_alert: 'ログアラート', kind_manual: '手動', window: '対象時間帯', openedBy: '起票者',
    created: '作成日時', employee: '職員', outcome: '結果', detail: '詳細',
    alerts: 'アラート', holds: '保全（リーガルホールド）', grants: '閲覧許可',
    rule: '検知ルール', terminal: '端末', severity: '重要度', received: '受信日時',
    start: '開始', end: '終了', released: '解除日時', user: 'ユーザー', expires: '有効期限',
    revoked: '取消日時', toReviewing: '確認中にする', toClosed: '完了にする',
    outcomeLabel: '結果（完了時に記入）', releaseHolds: '保全を解除', exportBundle: '証拠を書き出し',
    confirmRelease: 'このインシデントの保全をすべて解除しますか？', released_n: '{n} 件の保全を解除しました。',
    newIncident: 'インシデントを手動で起票', create: '起票', incidentCreated: 'インシデント {id} を起票しました。',
    employeeOptional: '職員番号（任意）', backToList: '一覧へ戻る', viewFootage: '録画を見る',
    auditTitle: 'アクセス記録', filter: '絞り込み', action: '操作', decision: '判定', all: 'すべて',
    allow: '許可', deny: '拒否', search: '検索', downloadCsv: 'CSVをダウンロード', at: '日時',
    client: '接続元', footage: '対象映像', incident: 'インシデント', total: '全 {n} 件',
    more: 'さらに表示', summaryTitle: '分野別の閲覧状況', division: '分野', department: '部',
    allowed: '許可', denied: '拒否', cameras: 'カメラ', reasons: '理由', first: '最初', last: '最後',
    showSummary: '集計を表示', role_label: '役割',
    decision_allow: '許可', decision_deny: '拒否', decision_info: '記録',
    err_400: '入力内容を確認してください', err_401: 'サインインが必要です',
    err_403: 'この操作の権限がありません', err_404: '見つかりません（または権限がありません）',
    err_409: '現在の状態ではこの操作はできません', err_422: '入力内容を確認してください', err_413: '送信内容が大きすぎます',
    err_423: 'アカウントがロックされています', err_429: '試行回数が多すぎます',
    err_500: 'サーバーでエラーが発生しました', err_502: '保存された映像が読めません',
    err_503: 'カメラまたはサービスに接続できません', err_network: 'サーバーに接続できません',
    err_login: 'ユーザーIDまたはパスワードが正しくありません',
    sessionExpired: 'セッションの有効期限が切れたため、サインアウトしました。',
    videoError: '映像を再生できません。',
    nothingToShow: 'この役割で表示できる画面はありません（カメラ設定の配備とヘルス確認はコマンドとAPIで行います）。',
  },
  en: {
    appName: 'Nakano City Surveillance Cameras',
    langSwitch: '日本語',
    signIn: 'Sign in', signOut: 'Sign out', username: 'User ID', password: 'Password',
    signInTitle: 'Sign in', signedInAs: '{name} ({role})',
    navCameras: 'Cameras', navLive: 'Live', navPlayback: 'Playback',
    navIncidents: 'Incidents', navAudit: 'Access records',
    role_crisis_management: 'Crisis management', role_department_head: 'Department head',
    role_division_manager: 'Division manager', role_ops: 'IT operations', role_auditor: 'Auditor',
    loading: 'Loading…', none: 'None', close: 'Close',
    camerasTitle: 'Cameras', cameraCount: '{n} cameras', site: 'Site', room: 'Room', camera: 'Camera',
    state: 'State', actions: 'Actions', stateUnknown: 'unknown',
    act_live: 'Live', act_playback: 'Playback', act_snapshot: 'Snapshot', act_export: 'Export',
    openLive: 'Watch live', openPlayback: 'Recordings', openSnapshot: 'Snapshot',
    noCameras: 'No cameras to show.',
    liveTitle: 'Live view', liveSite: 'Filter by site', allSites: 'All sites', gridSize: 'Tiles',
    page: 'Page', prev: 'Previous', next: 'Next', connecting: 'Connecting…',
    liveFailed: 'No video from this camera. Reconnecting…', liveLimit:
      'Browsers open few connections per server, so at most 4 cameras play at once.',
    playbackTitle: 'Playback', from: 'From (Tokyo time)', to: 'To (Tokyo time)',
    reason: 'Reason for viewing', reasonHint: 'Managers must state a reason for every viewing (4+ characters).',
    reasonRequired: 'Enter a reason of at least 4 characters.', showTimeline: 'Find recordings',
    play: 'Play', timeline: 'Recording timeline', segments: 'Recorded', gaps: 'Gaps', held: 'On hold',
    gapCause: 'Cause', segmentCount: '{n} segments, {g} gaps', noFootage: 'No recordings in this range.',
    cause_camera_offline: 'Camera unreachable', cause_camera_dropped: 'Camera disconnected',
    cause_stream_stalled: 'Stream stalled', cause_unauthorized: 'Credentials refused',
    cause_no_recording: 'Not recorded', cause_stream_error: 'Stream error',
    cause_recorder_down: 'Recorder down', cause_spool_full: 'Spool full',
    cause_camera_bad_answer: 'Unusable camera answer', cause_internal: 'Recorder internal error',
    cause_stream_invalid: 'Invalid video data',
    cause_untrusted_certificate: "Camera's certificate not trusted",
    rangeInvalid: 'Enter a valid range (the end after the start).',
    incidentsTitle: 'Incidents', incidentState: 'State', allStates: 'All',
    st_pending_approval: 'Awaiting approval', st_open: 'Open', st_reviewing: 'Reviewing',
    st_closed: 'Closed', approveIncident: 'Approve (grant footage access)',
    kind: 'Kind', kind_alert: 'Log alert', kind_manual: 'Manual', window: 'Time window',
    openedBy: 'Opened by', created: 'Created', employee: 'Employee', outcome: 'Outcome',
    detail: 'Details', alerts: 'Alerts', holds: 'Legal holds', grants: 'Viewing grants',
    rule: 'Rule', terminal: 'Terminal', severity: 'Severity', received: 'Received',
    start: 'Start', end: 'End', released: 'Released', user: 'User', expires: 'Expires',
    revoked: 'Revoked', toReviewing: 'Mark reviewing', toClosed: 'Close',
    outcomeLabel: 'Outcome (when closing)', releaseHolds: 'Release holds', exportBundle: 'Export evidence',
    confirmRelease: 'Release every hold of this incident?', released_n: '{n} holds released.',
    newIncident: 'Open an incident by hand', create: 'Open', incidentCreated: 'Incident {id} opened.',
    employeeOptional: 'Employee number (optional)', backToList: 'Back to the list',
    viewFootage: 'View footage',
    auditTitle: 'Access records', filter: 'Filter', action: 'Action', decision: 'Decision', all: 'All',
    allow: 'Allowed', deny: 'Denied', search: 'Search', downloadCsv: 'Download CSV', at: 'Time',
    client: 'Client', footage: 'Footage', incident: 'Incident', total: '{n} entries',
    more: 'Show more', summaryTitle: 'Viewing per division', division: 'Division',
    department: 'Department', allowed: 'Allowed', denied: 'Denied', cameras: 'Cameras',
    reasons: 'Reasons', first: 'First', last: 'Last', showSummary: 'Summarise',
    role_label: 'Role', decision_allow: 'Allowed', decision_deny: 'Denied', decision_info: 'Recorded',
    err_400: 'Please check your input', err_401: 'Please sign in',
    err_403: 'You are not permitted to do this', err_404: 'Not found (or not permitted)',
    err_409: 'Not possible in the current state', err_422: 'Please check your input', err_413: 'Request too large',
    err_423: 'The account is locked', err_429: 'Too many attempts',
    err_500: 'The server failed', err_502: 'Stored footage is unreadable',
    err_503: 'The camera or service is unavailable', err_network: 'Cannot reach the server',
    err_login: 'Wrong user ID or password',
    sessionExpired: 'Your session expired; you have been signed out.',
    videoError: 'The video cannot be played.',
    nothingToShow: 'There is no screen for this role here (deployment and health checks use the command line and API).',
  },
};
for (const part of [live, ops, records, review]) {
  Object.assign(STRINGS.ja, part.ja);
  Object.assign(STRINGS.en, part.en);
}

const KEY = 'camerahub.lang';
let current = localStorage.getItem(KEY) === 'en' ? 'en' : 'ja';

/** The current language: 'ja' or 'en'. */
export function lang() {
  return current;
}

/** Switch language and remember it. */
export function setLang(value) {
  current = value === 'en' ? 'en' : 'ja';
  localStorage.setItem(KEY, current);
  document.documentElement.lang = current;
}

/** A UI string, with {name} placeholders filled in. */
export function t(key, vars = {}) {
  const text = STRINGS[current][key] ?? STRINGS.ja[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ''));
}

/** Is there a UI string for key? */
export function has(key) {
  return key in STRINGS.ja;
}

/** A string for a value of some kind (role, state, cause...), or the raw value. */
export function tv(prefix, value) {
  if (value === null || value === undefined) return '';
  const key = `${prefix}_${String(value).replace(/-/g, '_')}`;
  const text = STRINGS[current][key];
  return text === undefined ? String(value) : text;
}
