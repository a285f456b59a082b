/* room_model.js: what the client knows of one room (Chat.RoomModel).
 * Messages come from three places (live on the room topic, history replies,
 * our own sends) and are merged on (sender, id), the pair the protocol makes
 * unique, so a message seen live, again in a catch-up and again after a
 * resend is shown once. Messages up to syncedTo (everything there came from
 * history, without gaps) are in seq order, the archive's; the rest (live
 * messages, our own, even when a receipt already numbered them) follow in
 * arrival order until a catch-up covers them. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.RoomModel = function (name) {
  this.name = name;
  this.byKey = new Map();
  this.arrivals = 0;
  this.sortedCache = null;
  this.minSeq = null;      // smallest seq held (paging back sends before=minSeq)
  this.maxSeq = null;      // largest seq held
  this.loaded = false;     // the latest page has been fetched once
  this.noOlder = false;    // history said there is nothing before minSeq
  this.lastSeq = 0;        // the server's last_seq, from rooms/history replies
  this.readSeq = 0;        // our read marker on the server
  this.unread = 0;
  this.mentions = 0;       // live messages naming us since the room was last open
  this.visibility = "";
  this.with = null;        // the other person of a direct room
  this.dividerSeq = null;  // "new messages" divider goes before the first seq above this
  this.syncedTo = 0;       // every message up to this seq has come from history
  this.shownTo = null;     // after newer messages were dropped: the last seq shown (null: all)
};

/* At most this many messages are held per room (and drawn): a long
 * scrollback or a busy room keeps the page's memory and DOM bounded. */
Chat.RoomModel.MAX_HELD = 400;
Chat.RoomModel.KEEP = 300;

Chat.RoomModel.key = function (sender, id) { return sender + "/" + id; };

/* Merges one message {id, sender, body, ts?, seq?, state?}; returns the stored
 * record. A known message only gains what it lacked (seq, ts) and a better
 * state (pending -> stored); its body never changes. */
Chat.RoomModel.prototype.add = function (m) {
  var key = Chat.RoomModel.key(m.sender, m.id);
  var cur = this.byKey.get(key);
  if (!cur) {
    cur = { key: key, id: m.id, sender: m.sender, body: m.body, ts: m.ts || null,
            seq: null, state: m.state || "live", arrival: this.arrivals++ };
    this.byKey.set(key, cur);
    this.sortedCache = null;
  }
  if (m.ts && !cur.ts) cur.ts = m.ts;
  if (typeof m.seq === "number" && cur.seq === null) {
    cur.seq = m.seq;
    if (m.ts) cur.ts = m.ts;   // the server's time replaces the time we saw it arrive
    this.sortedCache = null;
    if (this.minSeq === null || m.seq < this.minSeq) this.minSeq = m.seq;
    if (this.maxSeq === null || m.seq > this.maxSeq) this.maxSeq = m.seq;
    if (m.seq > this.lastSeq) this.lastSeq = m.seq;
    if (cur.state === "pending" || cur.state === "failed") cur.state = "stored";
  }
  if (m.state === "stored" || (m.state === "failed" && cur.state === "pending")) cur.state = m.state;
  if (m.state === "pending" && cur.state === "failed") cur.state = "pending";
  return cur;
};

Chat.RoomModel.prototype.get = function (sender, id) {
  return this.byKey.get(Chat.RoomModel.key(sender, id)) || null;
};

/* The messages in display order (a cached array; do not modify it). */
Chat.RoomModel.prototype.sorted = function () {
  if (!this.sortedCache) {
    var synced = this.syncedTo;
    var inOrder = function (m) { return m.seq !== null && m.seq <= synced; };
    this.sortedCache = Array.from(this.byKey.values()).sort(function (a, b) {
      var ia = inOrder(a), ib = inOrder(b);
      if (ia && ib) return a.seq - b.seq;
      if (ia !== ib) return ia ? -1 : 1;
      return a.arrival - b.arrival;
    });
  }
  return this.sortedCache;
};

/* Beyond MAX_HELD, drops messages down to KEEP: the oldest when dropOldest
 * (the reader is at the newest end), else the newest (the reader is paging
 * back). Only numbered messages that history can give back again
 * (seq <= syncedTo) are dropped, never a message of ours without receipt. */
Chat.RoomModel.prototype.trim = function (dropOldest) {
  if (this.byKey.size <= Chat.RoomModel.MAX_HELD) return;
  var synced = this.syncedTo;
  var numbered = this.sorted().filter(function (m) { return m.seq !== null && m.seq <= synced; });
  var n = Math.min(this.byKey.size - Chat.RoomModel.KEEP, numbered.length);
  var drop = dropOldest ? numbered.slice(0, n) : numbered.slice(numbered.length - n);
  var self = this;
  drop.forEach(function (m) { self.byKey.delete(m.key); });
  this.sortedCache = null;
  var kept = numbered.slice(dropOldest ? n : 0, dropOldest ? numbered.length : numbered.length - n);
  this.minSeq = kept.length ? kept[0].seq : null;
  if (dropOldest) this.noOlder = false;
  else this.shownTo = kept.length ? kept[kept.length - 1].seq : null;
  this.maxSeq = null;
  for (var m of this.byKey.values()) if (m.seq !== null && (this.maxSeq === null || m.seq > this.maxSeq)) this.maxSeq = m.seq;
};

/* Forgets the numbered messages (history gives them back) so that the room
 * opens at its latest page again; keeps our messages without a receipt. */
Chat.RoomModel.prototype.reset = function () {
  var self = this;
  this.byKey.forEach(function (m, key) { if (m.seq !== null) self.byKey.delete(key); });
  this.sortedCache = null;
  this.minSeq = this.maxSeq = this.shownTo = null;
  this.loaded = this.noOlder = false;
};

/* The messages to draw: all, or after newer ones were dropped those up to shownTo. */
Chat.RoomModel.prototype.shown = function () {
  var to = this.shownTo;
  if (to === null) return this.sorted();
  return this.sorted().filter(function (m) { return m.seq !== null && m.seq <= to; });
};

/* Every message up to seq has now come from history (see the ordering above). */
Chat.RoomModel.prototype.setSyncedTo = function (seq) {
  if (seq > this.syncedTo) { this.syncedTo = seq; this.sortedCache = null; }
};

/* True while a catch-up would still place something: someone else's message
 * without a seq, or a numbered one beyond syncedTo (our own, by its receipt). */
Chat.RoomModel.prototype.needsCatchUp = function (me) {
  for (var m of this.byKey.values()) {
    if (m.seq === null ? m.sender !== me : m.seq > this.syncedTo) return true;
  }
  return false;
};
