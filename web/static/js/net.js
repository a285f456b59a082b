/* net.js: the MQTT connection (Chat.Net), over WebSockets back to the server
 * that served the page, with MQTT.js. It turns packets into calls on the
 * handlers it is given and requests into promises matched on req_id
 * (PROTOCOL.md 4); it holds no chat state of its own. The password lives only
 * in this object's memory, for reconnecting. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

/* opts: {url, user, password, handlers: {state(s, detail), connected(),
 * roomMessage(room, sender, obj), typing(room, user, obj), presence(user, obj),
 * inbox(obj)}}. */
Chat.Net = function (opts) {
  this.user = opts.user;
  this.handlers = opts.handlers;
  this.pending = new Map();
  this.everConnected = false;
  this.client = mqtt.connect(opts.url, {
    username: opts.user,
    password: opts.password,
    clientId: "web-" + opts.user + "-" + Chat.util.newId().slice(0, 12),
    protocolVersion: 4,
    clean: true,
    keepalive: 30,
    reconnectPeriod: 1000,
    connectTimeout: 8000,
    resubscribe: true,
    // Plain timers: the default "auto" starts a Worker from a blob: URL, which
    // the page's Content-Security-Policy (script-src 'self') forbids.
    timerVariant: "native"
  });
  var self = this;
  this.client.on("connect", function () {
    self.everConnected = true;
    self.handlers.state("connected");
    self.handlers.connected();
  });
  this.client.on("reconnect", function () { self.handlers.state("connecting"); });
  this.client.on("offline", function () { self.handlers.state("offline"); });
  this.client.on("close", function () { self.failPending("not_connected"); });
  this.client.on("error", function (err) {
    // CONNACK 4/5 (MQTT 3.1.1): bad user name or password, or not authorised.
    if (err && (err.code === 4 || err.code === 5)) {
      self.client.end(true);
      self.handlers.state("refused", err.message);
    }
  });
  this.client.on("message", function (topic, payload) { self.dispatch(topic, payload); });
};

Chat.Net.prototype.connected = function () { return this.client.connected; };

Chat.Net.prototype.dispatch = function (topic, payload) {
  var t = topic.split("/");
  var obj = Chat.util.parseJson(payload);
  if (!obj || t[0] !== "chat" || t[1] !== "v1") return;
  if (t[2] === "rooms" && t.length === 6 && t[4] === "msg") {
    // The sender is the topic's last level, checked by the broker; never the payload's.
    if (typeof obj.id === "string" && typeof obj.body === "string") this.handlers.roomMessage(t[3], t[5], obj);
  } else if (t[2] === "rooms" && t.length === 6 && t[4] === "typing") {
    this.handlers.typing(t[3], t[5], obj);
  } else if (t[2] === "presence" && t.length === 4) {
    this.handlers.presence(t[3], obj);
  } else if (t[2] === "users" && t[3] === this.user && t[4] === "inbox") {
    if (obj.type === "reply" && this.pending.has(obj.req_id)) {
      var p = this.pending.get(obj.req_id);
      this.pending.delete(obj.req_id);
      clearTimeout(p.timer);
      p.resolve(obj);
    } else {
      this.handlers.inbox(obj);
    }
  }
};

Chat.Net.prototype.failPending = function (code) {
  this.pending.forEach(function (p) { clearTimeout(p.timer); p.reject(new Error(code)); });
  this.pending.clear();
};

/* Subscribes to topics (QoS 1); resolves once the broker granted them all. */
Chat.Net.prototype.subscribe = function (topics) {
  var client = this.client;
  return new Promise(function (resolve, reject) {
    client.subscribe(topics, { qos: 1 }, function (err, granted) {
      if (err) { reject(err); return; }
      var refused = (granted || []).filter(function (g) { return g.qos === 128; });
      if (refused.length) reject(new Error("subscription refused: " + refused[0].topic));
      else resolve();
    });
  });
};

Chat.Net.prototype.unsubscribe = function (topics) { this.client.unsubscribe(topics); };

/* Sends a request to service ("history" or "presence") and resolves to the
 * reply (ok or not); rejects when offline or after timeoutMs without one. */
Chat.Net.prototype.request = function (service, body, timeoutMs) {
  var self = this;
  return new Promise(function (resolve, reject) {
    if (!self.client.connected) { reject(new Error("not_connected")); return; }
    var reqId = "w" + Chat.util.newId().slice(0, 20);
    var msg = Object.assign({}, body, { req_id: reqId });
    var timer = setTimeout(function () {
      self.pending.delete(reqId);
      reject(new Error("timeout"));
    }, timeoutMs || 10000);
    self.pending.set(reqId, { resolve: resolve, reject: reject, timer: timer });
    self.client.publish("chat/v1/users/" + self.user + "/req/" + service, JSON.stringify(msg), { qos: 1 });
  });
};

/* Publishes a room message (QoS 1); the receipt comes later on the inbox. */
Chat.Net.prototype.sendMessage = function (room, id, body) {
  this.client.publish("chat/v1/rooms/" + room + "/msg/" + this.user, JSON.stringify({ id: id, body: body }),
                      { qos: 1 });
};

/* A typing indicator (QoS 0; PROTOCOL.md 3.5). */
Chat.Net.prototype.sendTyping = function (room, typing) {
  if (this.client.connected) {
    this.client.publish("chat/v1/rooms/" + room + "/typing/" + this.user, JSON.stringify({ typing: typing }),
                        { qos: 0 });
  }
};

/* Closes the connection for good (logout). */
Chat.Net.prototype.end = function () { this.client.end(true); };
