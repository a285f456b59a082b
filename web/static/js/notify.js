/* notify.js: mentions and browser notifications (Chat.notify). A mention is
 * "@name" in a body, as a whole word. While the tab is in the background, a
 * mention of us or a message in a direct room raises a notification, with the
 * body as plain text (the Notification API renders no markup). */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.notify = (function () {
  /* True when body mentions user ("@alice", not "@alicexyz" or "x@alice"). */
  function mentions(body, user) {
    var at = "@" + user, from = 0, i;
    while ((i = body.indexOf(at, from)) >= 0) {
      var before = i === 0 ? "" : body.charAt(i - 1);
      var after = body.charAt(i + at.length);
      if (!/[A-Za-z0-9_.-]/.test(before) && !/[A-Za-z0-9_-]/.test(after)) return true;
      from = i + 1;
    }
    return false;
  }

  /* Asks for permission once; must run in a user gesture (the login click). */
  function ask() {
    if (window.Notification && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (e) { /* old API or refused */ }
    }
  }

  /* Shows a notification for a message of sender in room, if allowed. */
  function show(roomLabel, sender, body) {
    if (!window.Notification || Notification.permission !== "granted") return;
    try {
      new Notification(sender + " in " + roomLabel, { body: body.slice(0, 200), tag: roomLabel });
    } catch (e) { /* some browsers allow them only from a service worker */ }
  }

  return { mentions: mentions, ask: ask, show: show };
})();
