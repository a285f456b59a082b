/* outbox_store.js: messages written but not yet stored by the server, kept in
 * IndexedDB (Chat.outboxStore) so that a page reload or a closed tab does not
 * lose them; they are sent again with the same id, which the archive stores
 * once. Only {user, room, id, body, created}: never a password. Without
 * IndexedDB (private modes of some browsers) it keeps nothing and says so. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.outboxStore = (function () {
  var dbPromise = null;

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve) {
        if (!window.indexedDB) { resolve(null); return; }
        var req = indexedDB.open("mqtt-chat", 1);
        req.onupgradeneeded = function () {
          req.result.createObjectStore("outbox", { keyPath: ["user", "id"] });
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { resolve(null); };
      });
    }
    return dbPromise;
  }

  function run(mode, fn) {
    return open().then(function (db) {
      if (!db) return null;
      return new Promise(function (resolve, reject) {
        var tx = db.transaction("outbox", mode);
        var result = fn(tx.objectStore("outbox"));
        tx.oncomplete = function () { resolve(result && "result" in result ? result.result : null); };
        tx.onerror = function () { reject(tx.error); };
      });
    });
  }

  return {
    /* Keeps one unsent message {user, room, id, body, created}. */
    put: function (rec) { return run("readwrite", function (s) { s.put(rec); }); },
    /* Forgets a message once its receipt came. */
    remove: function (user, id) { return run("readwrite", function (s) { s.delete([user, id]); }); },
    /* Resolves to the user's kept messages, oldest first. */
    all: function (user) {
      return run("readonly", function (s) {
        return s.getAll(IDBKeyRange.bound([user, ""], [user, "\uffff"]));
      }).then(function (rows) {
        return (rows || []).sort(function (a, b) { return a.created - b.created; });
      });
    }
  };
})();
