/* app.js: the web client's controller. Login form -> Chat.Net; packets from
 * the net update the RoomModels (directly, or through Chat.History and
 * Chat.Sender), then Chat.view redraws. The password is read from the form,
 * handed to the MQTT connection and cleared from the form; it is never
 * written to any browser storage. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

(function () {
  var $ = function (id) { return document.getElementById(id); };
  var TYPING_RENEW_MS = 3000, TYPING_TTL_MS = 6000;
  var s = null;   // the session: {me, net, history, sender, rooms, current, presence, typing}

  function room(name) {
    var r = s.rooms.get(name);
    if (!r) { r = new Chat.RoomModel(name); s.rooms.set(name, r); }
    return r;
  }

  function drawRooms() {
    var list = Array.from(s.rooms.values()).filter(function (r) { return r.member; });
    list.sort(function (a, b) { return (a.with ? 1 : 0) - (b.with ? 1 : 0) || a.name.localeCompare(b.name); });
    Chat.view.renderRooms(list, s.current, s.presence);
  }

  /* Messages of r were added or changed: keep the room bounded (paging back
   * drops the newest, anything else the oldest) and redraw it if open. */
  function changed(r, scroll) {
    r.trim(scroll !== "prepend");
    if (r.name !== s.current) return;
    // One redraw per frame however many messages arrived: "bottom" wins,
    // then "prepend" (do not stick to the bottom), then "".
    if (scroll === "bottom" || (scroll === "prepend" && s.drawScroll !== "bottom")) s.drawScroll = scroll;
    if (s.drawPending) return;
    s.drawPending = true;
    var session = s;
    requestAnimationFrame(function () {
      if (session !== s) return;
      s.drawPending = false;
      var mode = s.drawScroll || "";
      s.drawScroll = "";
      var cur = room(s.current);
      Chat.view.renderMessages(cur, s.me, mode);
      scheduleRead(cur);
    });
  }

  function visible() { return document.visibilityState === "visible"; }

  /* Moves our read marker to the newest numbered message once it is seen. */
  function scheduleRead(r) {
    if (r.readTimer || !visible() || r.name !== s.current) return;
    r.readTimer = setTimeout(function () {
      r.readTimer = null;
      var seq = r.maxSeq;
      if (seq === null || seq <= r.readSeq || r.name !== s.current || !visible()) return;
      s.net.request("history", { op: "read", room: r.name, seq: seq }).then(function (reply) {
        if (reply.ok && reply.seq > r.readSeq) r.readSeq = reply.seq;
      }).catch(function () {});
    }, 800);
  }

  /* Opens room name; show: the user chose it (on a phone, the room pane comes to the front). */
  function selectRoom(name, show) {
    var r = room(name);
    if (r.shownTo !== null) r.reset();   // left while paging back: open at the newest again
    s.current = name;
    r.dividerSeq = r.unread > 0 ? r.readSeq : null;
    r.unread = 0;
    r.mentions = 0;
    Chat.view.setRoom(r, show);
    changed(r, "bottom");
    drawRooms();
    drawTyping();
    if (s.net.connected()) s.history.sync(r);
  }

  /* The rooms reply: membership, unread counts and read markers. */
  function applyRooms(reply) {
    var names = new Set();
    (reply.rooms || []).forEach(function (info) {
      var r = room(info.name);
      names.add(info.name);
      r.member = true;
      r.visibility = info.visibility;
      r.with = info.with || null;
      r.readSeq = Math.max(r.readSeq, info.read_seq || 0);
      r.lastSeq = Math.max(r.lastSeq, info.last_seq || 0);
      if (info.name !== s.current) r.unread = info.unread || 0;
    });
    s.rooms.forEach(function (r) { if (!names.has(r.name)) r.member = false; });
    return Array.from(names);
  }

  /* Asks for our rooms, subscribes to the new ones, drops the ones we left,
   * and opens select (or keeps the open room, or opens lobby). */
  function refreshRooms(select) {
    var net = s.net;
    var before = new Set(Array.from(s.rooms.values()).filter(function (r) { return r.member; })
                              .map(function (r) { return r.name; }));
    return net.request("history", { op: "rooms" }).then(function (reply) {
      if (!reply.ok) throw new Error("rooms refused");
      var names = applyRooms(reply);
      var topics = [];
      names.forEach(function (n) { topics.push("chat/v1/rooms/" + n + "/msg/+", "chat/v1/rooms/" + n + "/typing/+"); });
      before.forEach(function (n) {
        if (names.indexOf(n) < 0) net.unsubscribe(["chat/v1/rooms/" + n + "/msg/+", "chat/v1/rooms/" + n + "/typing/+"]);
      });
      return topics.length ? net.subscribe(topics).then(function () { return names; }) : names;
    }).then(function (names) {
      drawRooms();
      if (select && names.indexOf(select) >= 0) {
        selectRoom(select, true);
      } else if (!s.current || !room(s.current).member) {
        var first = names.indexOf("lobby") >= 0 ? "lobby" : names[0];
        if (first) selectRoom(first);
      } else {
        s.history.sync(room(s.current));
      }
    });
  }

  /* After every (re)connect: inbox and presence first (replies need the
   * inbox), then the rooms, their topics and a catch-up of the open room,
   * then the messages that still wait for a receipt. */
  function resync() {
    var net = s.net;
    net.subscribe(["chat/v1/users/" + s.me + "/inbox", "chat/v1/presence/+"]).then(function () {
      return refreshRooms(null);
    }).then(function () {
      s.sender.flush();
    }).catch(function (e) {
      console.warn("resync failed, retrying:", e.message);
      if (net.connected()) setTimeout(resync, 2000);
    });
  }

  function onRoomMessage(name, sender, obj) {
    var r = room(name);
    if (r.get(sender, obj.id)) return;   // a duplicate (bridge redelivery, our echo)
    r.add({ id: obj.id, sender: sender, body: obj.body, ts: new Date().toISOString() });
    if (sender !== s.me) {
      stopTyping(name, sender);
      var mention = Chat.notify.mentions(obj.body, s.me);
      if (name !== s.current || !visible()) {
        r.unread++;
        if (mention) r.mentions++;
        drawRooms();
      }
      if (!visible() && (mention || r.with)) Chat.notify.show(r.with ? "@" + r.with : "#" + name, sender, obj.body);
    }
    changed(r, "");
    if (name === s.current) s.history.scheduleRenumber(r, s.me);
  }

  function drawTyping() {
    var now = Date.now(), users = [];
    var t = s.typing.get(s.current);
    if (t) t.forEach(function (until, user) { if (until > now) users.push(user); else t.delete(user); });
    Chat.view.renderTyping(users.sort());
  }

  function stopTyping(name, user) {
    var t = s.typing.get(name);
    if (t && t.delete(user) && name === s.current) drawTyping();
  }

  function onTyping(name, user, obj) {
    if (user === s.me || typeof obj.typing !== "boolean") return;
    if (!obj.typing) { stopTyping(name, user); return; }
    if (!s.typing.has(name)) s.typing.set(name, new Map());
    s.typing.get(name).set(user, Date.now() + TYPING_TTL_MS);
    if (name === s.current) drawTyping();
  }

  function onPresence(user, obj) {
    if (typeof obj.state !== "string") return;
    s.presence.set(user, { state: obj.state, text: typeof obj.text === "string" ? obj.text : null });
    Chat.view.renderPeople(s.presence);
    if (user === s.me) Chat.view.setMyState(obj.state);
    drawRooms();
  }

  function onInbox(obj) {
    if (obj.type === "receipt") s.sender.receipt(obj);
    else if (obj.type === "error" && obj.id) s.sender.error(obj);
  }

  function onState(state, detail) {
    Chat.view.setConnState(state);
    if (state === "refused" && !s.net.everConnected) {
      s = null;
      Chat.view.showLogin("Login refused: wrong user name or password.");
    } else if (state === "refused") {
      Chat.view.setConnState("refused");
      console.warn("login refused on reconnect:", detail);
    }
  }

  function login(ev) {
    ev.preventDefault();
    var user = $("login-user").value.trim();
    var password = $("login-password").value;
    $("login-password").value = "";
    if (typeof mqtt === "undefined") {
      Chat.view.showLogin("MQTT.js is missing on this server (run make deps, then make up).");
      return;
    }
    $("login-submit").disabled = true;
    Chat.notify.ask();
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/mqtt";
    s = { me: user, rooms: new Map(), current: null, presence: new Map(), typing: new Map(), lastTyping: 0 };
    var session = s;
    var mine = function (fn) {   // events of a connection we logged out of are ignored
      return function () { if (s === session) fn.apply(null, arguments); };
    };
    s.net = new Chat.Net({ url: url, user: user, password: password,
      handlers: { state: mine(onState), connected: mine(resync), roomMessage: mine(onRoomMessage),
                  typing: mine(onTyping), presence: mine(onPresence), inbox: mine(onInbox) } });
    s.history = new Chat.History(s.net, changed);
    s.sender = new Chat.Sender(s.net, user, room, function (r) {
      changed(r, "");
      if (r.name === s.current && r.needsCatchUp(user)) s.history.scheduleRenumber(r, user);
    });
    Chat.view.showChat(user);
    Chat.view.setConnState("connecting");
    s.sender.restore();
  }

  function submitComposer(ev) {
    if (ev) ev.preventDefault();
    var box = $("composer-text");
    var body = box.value;
    if (!s || !body.trim()) return;
    if (body.charAt(0) === "/" && body.charAt(1) !== "/") { box.value = ""; command(body); return; }
    if (!s.current) { Chat.view.notice("no room open: /join or /create one"); return; }
    if (body.slice(0, 2) === "//") body = body.slice(1);   // "//x" sends "/x"
    if (new TextEncoder().encode(body).length > 4000) {
      box.setCustomValidity("At most 4000 bytes");
      box.reportValidity();
      return;
    }
    box.value = "";
    s.sender.send(s.current, body);
    s.net.sendTyping(s.current, false);
    s.lastTyping = 0;
  }

  function command(line) {
    var session = s;
    Chat.view.notice("\u2026");
    Chat.commands.run(s.net, line, s.current).then(function (out) {
      if (session !== s) return;
      Chat.view.notice(out.text);
      if (out.refresh) return refreshRooms(out.select);
    }).catch(function (e) { Chat.view.notice("error: " + e.message); });
  }

  /* Closes the connection and forgets the session (the password with it);
   * messages still waiting for a receipt stay in IndexedDB for next time. */
  function logout() {
    if (!s) return;
    s.net.end();
    s = null;
    $("composer-text").value = "";
    Chat.view.showLogin("");
  }

  function composerKey(ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) submitComposer(ev);
  }

  function composerInput() {
    var box = $("composer-text");
    box.setCustomValidity("");
    if (!s || !s.current) return;
    var now = Date.now();
    if (box.value && now - s.lastTyping > TYPING_RENEW_MS) { s.lastTyping = now; s.net.sendTyping(s.current, true); }
    if (!box.value && s.lastTyping) { s.lastTyping = 0; s.net.sendTyping(s.current, false); }
  }

  /* Alt+Up / Alt+Down: previous / next room (focus stays in the composer);
   * Escape: back to the rooms list on a phone-sized screen. */
  function onKey(ev) {
    if (!s || !s.current) return;
    if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
      var names = Array.from(document.querySelectorAll("#rooms .room")).map(function (b) { return b.dataset.room; });
      var i = names.indexOf(s.current) + (ev.key === "ArrowUp" ? -1 : 1);
      if (i >= 0 && i < names.length) { ev.preventDefault(); selectRoom(names[i], true); }
    } else if (ev.key === "Escape" && document.body.dataset.view === "room") {
      Chat.view.setRoom(room(s.current), false);
    }
  }

  /* Near the top: the page before; near the bottom after paging back: the
   * page after. Checked again once a page came (or failed), since a view
   * still at the edge gets no further scroll event. */
  function onScroll() {
    if (!s || !s.current) return;
    var box = $("messages"), r = room(s.current);
    var again = function () { setTimeout(onScroll, 300); };
    if (box.scrollTop < 80 && !r.noOlder && !r.loadingOlder) {
      s.history.older(r).then(again);
    } else if (box.scrollHeight - box.scrollTop - box.clientHeight < 80 && r.shownTo !== null && !r.loadingNewer) {
      s.history.newer(r).then(again);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    Chat.view.init({
      selectRoom: function (name) { selectRoom(name, true); },
      retry: function (name, id) { s.sender.retry(name, id); },
      back: function () { Chat.view.setRoom(s.current ? room(s.current) : null, false); }
    });
    $("login-form").addEventListener("submit", login);
    $("logout").addEventListener("click", logout);
    $("composer").addEventListener("submit", submitComposer);
    $("composer-text").addEventListener("keydown", composerKey);
    $("composer-text").addEventListener("input", composerInput);
    $("messages").addEventListener("scroll", onScroll);
    document.addEventListener("keydown", onKey);
    document.addEventListener("visibilitychange", function () {
      if (!s || !s.current || !visible()) return;
      var r = room(s.current);
      r.unread = 0;
      r.mentions = 0;
      drawRooms();
      scheduleRead(r);
    });
    setInterval(function () { if (s) drawTyping(); }, 1000);
  });
})();
