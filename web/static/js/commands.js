/* commands.js: the composer's slash commands (Chat.commands), the room and
 * presence requests of PROTOCOL.md 4.4 and 4.5. run() only asks the server
 * and describes the outcome; the caller redraws and refreshes the rooms. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.commands = (function () {
  var HELP = "/join ROOM, /create ROOM [private], /leave, /invite USER, /kick USER, /dm USER, " +
             "/rooms (public rooms), /status online|away|dnd [TEXT]";

  function failed(reply) {
    var e = reply.error || {};
    return { text: "refused: " + (e.message || e.code || "error") + (e.code ? " (" + e.code + ")" : "") };
  }

  /* Runs line (starting with "/") in room current through net; resolves to
   * {text, refresh (the rooms list changed), select (a room to open)}. */
  function run(net, line, current) {
    var words = line.trim().split(/\s+/);
    var cmd = words[0], arg = words[1] || "";
    var ask = function (service, body, then) {
      return net.request(service, body).then(function (reply) { return reply.ok ? then(reply) : failed(reply); },
        function (err) { return { text: "not sent: " + err.message }; });
    };
    switch (cmd) {
    case "/join":
      return ask("history", { op: "join", room: arg }, function (r) {
        return { text: "joined #" + r.room, refresh: true, select: r.room };
      });
    case "/create":
      return ask("history", { op: "create", room: arg, visibility: words[2] === "private" ? "private" : "public" },
        function (r) { return { text: "created #" + r.room, refresh: true, select: r.room }; });
    case "/leave":
      return ask("history", { op: "leave", room: arg || current }, function (r) {
        return { text: "left #" + r.room, refresh: true };
      });
    case "/invite":
    case "/kick":
      return ask("history", { op: cmd.slice(1), room: current, user: arg }, function (r) {
        return { text: (cmd === "/kick" ? "removed " + r.user + " from #" : "invited " + r.user + " to #") + r.room };
      });
    case "/dm":
      return ask("history", { op: "dm", user: arg }, function (r) {
        return { text: "direct room with " + r.user, refresh: true, select: r.room };
      });
    case "/rooms":
      return ask("history", { op: "public_rooms" }, function (r) {
        var list = (r.rooms || []).map(function (x) { return x.name + " (" + x.members + ")"; });
        return { text: "public rooms: " + (list.join(", ") || "none") };
      });
    case "/status": {
      var text = words.slice(2).join(" ");
      return ask("presence", { op: "status", state: arg, text: text || null }, function (r) {
        return { text: "status: " + r.state + (r.text ? " \u2014 " + r.text : "") };
      });
    }
    default:
      return Promise.resolve({ text: HELP });
    }
  }

  return { run: run };
})();
