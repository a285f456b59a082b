/* sender.js: our own messages from the composer to their receipt
 * (Chat.Sender). Each message is kept (in memory and in IndexedDB) until
 * history-svc's receipt says it is stored; it is sent again, with the same
 * id, after every reconnect and on Retry. States shown: pending (sent or
 * waiting for the connection), stored (receipt), failed (an error from the
 * server, or no receipt within RECEIPT_MS while connected). */
"use strict";
var Chat = window.Chat || (window.Chat = {});

var RECEIPT_MS = 15000;

/* net: Chat.Net; room(name): the RoomModel; changed(room): redraw it. */
Chat.Sender = function (net, me, room, changed) {
  this.net = net;
  this.me = me;
  this.room = room;
  this.changed = changed;
  this.unsent = new Map();   // id -> {user, room, id, body, created}
  this.timers = new Map();   // id -> receipt timer
};

/* Puts the messages kept from an earlier visit back in their rooms, pending;
 * resolves when done (flush() then sends them). */
Chat.Sender.prototype.restore = function () {
  var self = this;
  return Chat.outboxStore.all(this.me).then(function (recs) {
    recs.forEach(function (rec) {
      self.unsent.set(rec.id, rec);
      var room = self.room(rec.room);
      room.add({ id: rec.id, sender: self.me, body: rec.body, ts: new Date(rec.created).toISOString(),
                 state: "pending" });
      self.changed(room);
    });
  }).catch(function () { /* nothing kept */ });
};

/* Queues body for roomName, shows it pending and sends it when connected. */
Chat.Sender.prototype.send = function (roomName, body) {
  var rec = { user: this.me, room: roomName, id: Chat.util.newId(), body: body, created: Date.now() };
  this.unsent.set(rec.id, rec);
  Chat.outboxStore.put(rec).catch(function () { /* kept in memory only */ });
  var room = this.room(roomName);
  room.add({ id: rec.id, sender: this.me, body: body, ts: new Date(rec.created).toISOString(), state: "pending" });
  this.changed(room);
  this.transmit(rec);
};

Chat.Sender.prototype.transmit = function (rec) {
  var self = this;
  if (!this.net.connected()) return;   // flush() sends it on connect
  this.net.sendMessage(rec.room, rec.id, rec.body);
  clearTimeout(this.timers.get(rec.id));
  this.timers.set(rec.id, setTimeout(function () {
    self.timers.delete(rec.id);
    if (self.unsent.has(rec.id) && self.net.connected()) self.mark(rec, "failed");
  }, RECEIPT_MS));
};

Chat.Sender.prototype.mark = function (rec, state) {
  var room = this.room(rec.room);
  var m = room.get(this.me, rec.id);
  if (m && m.state !== "stored") { m.state = state; this.changed(room); }
};

/* On (re)connect: every message without a receipt goes out again, same id. */
Chat.Sender.prototype.flush = function () {
  var self = this;
  this.unsent.forEach(function (rec) { self.mark(rec, "pending"); self.transmit(rec); });
};

Chat.Sender.prototype.retry = function (roomName, id) {
  var rec = this.unsent.get(id);
  if (rec) { this.mark(rec, "pending"); this.transmit(rec); }
};

/* An inbox receipt {room, id, seq, ts}: the message is stored. */
Chat.Sender.prototype.receipt = function (r) {
  var rec = this.unsent.get(r.id);
  var room = this.room(r.room);
  if (!room.get(this.me, r.id) && !rec) return;   // sent from another device
  room.add({ id: r.id, sender: this.me, seq: r.seq, ts: r.ts, state: "stored" });
  if (rec) {
    this.unsent.delete(r.id);
    clearTimeout(this.timers.get(r.id));
    this.timers.delete(r.id);
    Chat.outboxStore.remove(this.me, r.id).catch(function () {});
  }
  this.changed(room);
};

/* An inbox error {code, room, id}: the message was refused. */
Chat.Sender.prototype.error = function (e) {
  var rec = this.unsent.get(e.id);
  if (rec) this.mark(rec, "failed");
};
