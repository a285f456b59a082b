/* history.js: fills RoomModels from history-svc (Chat.History): the latest
 * page when a room is first opened, older pages as one scrolls up, and
 * catch-up (after = the largest seq known) after every (re)connect and when
 * live messages still lack their seq. Merging on (sender, id) in RoomModel
 * makes each message appear once however often it comes back. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

var PAGE = 50;          // messages per page when scrolling back
var CATCHUP_PAGE = 250; // the protocol's largest limit

/* net: a Chat.Net; changed(room, scroll): called after messages were merged. */
Chat.History = function (net, changed) {
  this.net = net;
  this.changed = changed;
  this.busy = new Map();   // room name -> promise of the running catch-up
  this.again = new Set();  // rooms whose catch-up must run once more when done
  this.renumber = new Map();  // room name -> timer of a catch-up for unnumbered messages
};

Chat.History.prototype.merge = function (room, reply) {
  if (typeof reply.last_seq === "number" && reply.last_seq > room.lastSeq) room.lastSeq = reply.last_seq;
  (reply.messages || []).forEach(function (m) {
    room.add({ id: m.id, sender: m.sender, body: m.body, ts: m.ts, seq: m.seq });
  });
};

Chat.History.prototype.ask = function (body) {
  return this.net.request("history", Object.assign({ op: "history" }, body)).then(function (reply) {
    if (!reply.ok) throw new Error(reply.error ? reply.error.code : "error");
    return reply;
  });
};

/* Brings room up to date: the latest page the first time, else every message
 * after the largest seq held, page by page. Resolves when done. */
Chat.History.prototype.sync = function (room) {
  var self = this;
  if (this.busy.has(room.name)) { this.again.add(room.name); return this.busy.get(room.name); }
  var run = (room.loaded ? this.catchUp(room) : this.latest(room)).catch(function () { /* retried on reconnect */ })
    .then(function () {
      self.busy.delete(room.name);
      if (self.again.delete(room.name)) return self.sync(room);
    });
  this.busy.set(room.name, run);
  return run;
};

Chat.History.prototype.latest = function (room) {
  var self = this;
  return this.ask({ room: room.name, limit: PAGE }).then(function (reply) {
    self.merge(room, reply);
    room.loaded = true;
    // Only what history returned counts as caught up: a receipt's seq for our
    // own message says nothing of the messages just before it.
    var got = reply.messages || [];
    room.setSyncedTo(got.length ? got[got.length - 1].seq : (reply.last_seq || 0));
    if ((reply.messages || []).length < PAGE || room.minSeq === 1) room.noOlder = true;
    self.changed(room, "bottom");
  });
};

Chat.History.prototype.catchUp = function (room) {
  var self = this;
  return this.ask({ room: room.name, after: room.syncedTo || 0, limit: CATCHUP_PAGE }).then(function (reply) {
    var got = reply.messages || [];
    self.merge(room, reply);
    if (got.length) room.setSyncedTo(got[got.length - 1].seq);
    self.changed(room, "");
    if (got.length === CATCHUP_PAGE) return self.catchUp(room);
  });
};

/* Fetches the page before the oldest message held (scrolling up). */
Chat.History.prototype.older = function (room) {
  var self = this;
  if (room.noOlder || room.loadingOlder || !room.loaded) return Promise.resolve();
  if (room.minSeq === null || room.minSeq <= 1) { room.noOlder = true; return Promise.resolve(); }
  room.loadingOlder = true;
  return this.ask({ room: room.name, before: room.minSeq, limit: PAGE }).then(function (reply) {
    self.merge(room, reply);
    if ((reply.messages || []).length < PAGE || room.minSeq === 1) room.noOlder = true;
    self.changed(room, "prepend");
  }).catch(function () { /* scrolling again retries */ }).then(function () { room.loadingOlder = false; });
};

/* Fetches the page after the last message shown, once newer ones were
 * dropped while paging back (scrolling down again). */
Chat.History.prototype.newer = function (room) {
  var self = this;
  if (room.shownTo === null || room.loadingNewer) return Promise.resolve();
  room.loadingNewer = true;
  return this.ask({ room: room.name, after: room.shownTo, limit: PAGE }).then(function (reply) {
    var got = reply.messages || [];
    self.merge(room, reply);
    room.shownTo = got.length ? got[got.length - 1].seq : room.shownTo;
    if (got.length < PAGE || room.shownTo >= room.syncedTo) room.shownTo = null;
    self.changed(room, "");
  }).catch(function () { /* scrolling again retries */ }).then(function () { room.loadingNewer = false; });
};

/* After live messages: a catch-up numbers them (live payloads carry no seq)
 * and fills anything the live path missed; repeated, less and less often,
 * while some stay unnumbered (history-svc may not have stored them yet). */
Chat.History.prototype.scheduleRenumber = function (room, me, tries) {
  var self = this;
  if (this.renumber.has(room.name) || !room.loaded) return;
  tries = tries || 0;
  this.renumber.set(room.name, setTimeout(function () {
    self.renumber.delete(room.name);
    self.sync(room).then(function () {
      if (room.needsCatchUp(me)) self.scheduleRenumber(room, me, tries + 1);
    });
  }, 600 + 800 * Math.min(tries, 5)));
};
