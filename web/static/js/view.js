/* view.js: draws the screens from the models (Chat.view). It reads state and
 * calls back only through the handlers given to init(); it never talks to the
 * network. All user-supplied text is set as text (Chat.util.el). */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.view = (function () {
  var el = Chat.util.el;
  var $ = function (id) { return document.getElementById(id); };
  var on = {};   // handlers: selectRoom(name), retry(room, id), back()

  var STATE_TEXT = { pending: "sending\u2026", stored: "\u2713", failed: "not sent" };
  var CONN_TEXT = { connecting: "connecting\u2026", connected: "online", offline: "offline: reconnecting\u2026",
                    refused: "login refused" };

  function init(handlers) {
    on = handlers;
    $("back").addEventListener("click", function () { on.back(); });
  }

  function showLogin(error) {
    $("chat-screen").hidden = true;
    $("login-screen").hidden = false;
    $("login-error").textContent = error || "";
    $("login-submit").disabled = false;
  }

  function showChat(me) {
    $("login-screen").hidden = true;
    $("chat-screen").hidden = false;
    $("me-name").textContent = me;
  }

  function setConnState(state) {
    $("conn-state").textContent = CONN_TEXT[state] || state;
    document.body.setAttribute("data-conn", state);
  }

  function setMyState(state) {
    $("me-dot").className = "dot dot-" + state;
    $("me-dot").title = state;
  }

  function dot(state) {
    var s = state || "offline";
    return el("span", { class: "dot dot-" + s, title: s, "aria-label": s, role: "img" });
  }

  function roomLabel(room) { return room.with ? "@" + room.with : "#" + room.name; }

  /* rooms: RoomModels in display order; presence: Map user -> {state}. */
  function renderRooms(rooms, current, presence) {
    var list = $("rooms");
    var frag = document.createDocumentFragment();
    rooms.forEach(function (room) {
      var badge = room.unread > 0
        ? el("span", { class: "badge", "aria-label": room.unread + " unread" }, [String(room.unread)]) : null;
      var at = room.mentions > 0
        ? el("span", { class: "badge mention-badge", "aria-label": room.mentions + " mentions" }, ["@" + room.mentions])
        : null;
      var p = room.with ? dot((presence.get(room.with) || {}).state) : null;
      var btn = el("button", { type: "button", class: "room", "data-room": room.name,
                               "aria-current": room.name === current ? "true" : null },
                   [p, el("span", { class: "room-name" }, [roomLabel(room)]), at, badge]);
      btn.addEventListener("click", function () { on.selectRoom(room.name); });
      frag.appendChild(el("li", {}, [btn]));
    });
    list.replaceChildren(frag);
  }

  function renderPeople(presence) {
    var frag = document.createDocumentFragment();
    Array.from(presence.keys()).sort().forEach(function (user) {
      var p = presence.get(user);
      frag.appendChild(el("li", { class: "person", "data-user": user, "data-state": p.state },
                          [dot(p.state), el("span", {}, [user]),
                           p.text ? el("span", { class: "status-text" }, [" " + p.text]) : null]));
    });
    $("people").replaceChildren(frag);
  }

  function messageNode(room, m, me) {
    var mine = m.sender === me;
    var meta = [el("span", { class: "sender" }, [m.sender]),
                el("time", { datetime: m.ts }, [Chat.util.shortTime(m.ts)])];
    if (mine && STATE_TEXT[m.state]) meta.push(el("span", { class: "state" }, [STATE_TEXT[m.state]]));
    if (mine && m.state === "failed") {
      var retry = el("button", { type: "button", class: "retry" }, ["Retry"]);
      retry.addEventListener("click", function () { on.retry(room.name, m.id); });
      meta.push(retry);
    }
    var cls = "msg" + (mine ? " mine" : "") + (!mine && Chat.notify.mentions(m.body, me) ? " mention" : "");
    return el("div", { class: cls, "data-key": m.key, "data-seq": m.seq,
                       "data-state": m.state },
              [el("div", { class: "meta" }, meta), el("div", { class: "body" }, [m.body])]);
  }

  function atBottom() {
    var box = $("messages");
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  /* The first message in view and its distance from the top of the box. */
  function anchor(box) {
    var top = box.scrollTop;
    for (var n = box.firstElementChild; n; n = n.nextElementSibling) {
      if (n.dataset.key && n.offsetTop + n.offsetHeight > top) return { key: n.dataset.key, off: n.offsetTop - top };
    }
    return null;
  }

  /* Redraws the message list of room. scroll: "bottom" jumps to the newest;
   * otherwise the view stays at the bottom if it was there, else the message
   * at the top of the view stays where it is (messages added or dropped
   * above it do not move what one is reading). */
  function renderMessages(room, me, scroll) {
    var box = $("messages");
    var wasAtBottom = atBottom();
    var keep = scroll === "bottom" || (wasAtBottom && scroll !== "prepend") ? null : anchor(box);
    var frag = document.createDocumentFragment();
    if (room.noOlder && room.byKey.size) frag.appendChild(el("div", { class: "start" }, ["Start of the room"]));
    var dividerDone = room.dividerSeq === null;
    // A burst of live messages not yet numbered (so not yet trimmed) is drawn
    // from its newest MAX_HELD only.
    var list = room.shown();
    if (list.length > Chat.RoomModel.MAX_HELD) list = list.slice(list.length - Chat.RoomModel.MAX_HELD);
    list.forEach(function (m) {
      if (!dividerDone && m.seq !== null && m.seq > room.dividerSeq && m.sender !== me) {
        frag.appendChild(el("div", { class: "divider", role: "separator" }, ["New messages"]));
        dividerDone = true;
      }
      frag.appendChild(messageNode(room, m, me));
    });
    if (room.shownTo !== null) frag.appendChild(el("div", { class: "start more" }, ["Newer messages below\u2026"]));
    box.replaceChildren(frag);
    var at = keep && box.querySelector('[data-key="' + CSS.escape(keep.key) + '"]');
    if (at) box.scrollTop = at.offsetTop - keep.off;
    else if (scroll === "bottom" || wasAtBottom) box.scrollTop = box.scrollHeight;
  }

  /* Shows room's title; on a phone-sized screen, show (true) brings the room
   * pane to the front, else the rooms list stays. */
  function setRoom(room, show) {
    $("room-title").textContent = room ? roomLabel(room) : "";
    document.body.setAttribute("data-view", room && show ? "room" : "rooms");
  }

  function notice(text) { $("notice").textContent = text; }

  function renderTyping(users) {
    var text = "";
    if (users.length === 1) text = users[0] + " is typing\u2026";
    else if (users.length > 1) text = users.join(", ") + " are typing\u2026";
    $("typing").textContent = text;
  }

  return { init: init, showLogin: showLogin, showChat: showChat, setConnState: setConnState,
           setMyState: setMyState, renderRooms: renderRooms, renderPeople: renderPeople,
           renderMessages: renderMessages, atBottom: atBottom, setRoom: setRoom, renderTyping: renderTyping, notice: notice };
})();
