/* The page's state: S, the one object the modules read and change (imported, never a global), and
 * the lookups into S.state, the last GET /sandbox/state answer. Imports nothing. */

export const S = {
  me: null,            // the user id the page shows Slack as
  channel: null,       // the channel shown
  thread: null,        // {channel, ts} of the open thread, or null
  canvas: null,        // the id of the canvas shown beside the channel, or null
  state: null,         // the last GET /sandbox/state answer
  users: {},           // id -> user
  events: null,        // the EventSource
  refreshTimer: null,
  refreshing: false,
  refreshAgain: false,
  modalKey: null,      // what the rendered modal shows: id, hash, errors
  modalBanner: "",
  actionErrors: {},    // message ts -> error text shown under it
  seen: {},            // channel id -> newest ts seen there
  rendered: {},        // pane id -> last HTML, to leave unchanged panes alone
};

export function userName(id) {
  const user = S.users[id];
  return user ? (user.real_name || user.name) : id;
}

export function isTopLevel(m) {
  return !m.thread_ts || m.thread_ts === m.ts || m.subtype === "thread_broadcast";
}

export function repliesOf(channel, ts) {
  return (S.state.messages[channel] || []).filter((m) => m.thread_ts === ts && m.ts !== ts);
}

export function ephemeralsIn(channel, threadTs) {
  return S.state.ephemerals
    .filter((e) => e.channel === channel && (threadTs ? e.thread_ts === threadTs : !e.thread_ts))
    .map((e) => ({ ...e, ephemeral: true }));
}

export function currentChannel() {
  return S.state.channels.find((c) => c.id === S.channel) || S.state.channels[0];
}
