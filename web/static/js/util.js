/* util.js: small helpers shared by the other scripts (namespace Chat.util).
 * Everything user-supplied reaches the page through el()'s text children or
 * textContent, never as markup. */
"use strict";
var Chat = window.Chat || (window.Chat = {});

Chat.util = (function () {
  /* A random 128-bit id in hex: message ids and request ids (PROTOCOL.md 1). */
  function newId() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
  }

  /* el("div", {class: "msg", "data-seq": 3}, ["text", childNode]): builds an
   * element; strings become text nodes, so they can never be markup. */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (attrs[k] !== null && attrs[k] !== undefined) node.setAttribute(k, String(attrs[k]));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  /* "14:05" for today, "2026-11-28 14:05" otherwise; "" for no timestamp. */
  function shortTime(ts) {
    if (!ts) return "";
    var d = new Date(ts);
    if (isNaN(d.getTime())) return "";
    var hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    var now = new Date();
    if (d.toDateString() === now.toDateString()) return hm;
    return d.getFullYear() + "-" + String(d.getMonth() + 1).padStart(2, "0") + "-" +
      String(d.getDate()).padStart(2, "0") + " " + hm;
  }

  /* Parses an MQTT payload (Uint8Array) as a JSON object; null if it is not one. */
  function parseJson(payload) {
    try {
      var v = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
      return v && typeof v === "object" && !Array.isArray(v) ? v : null;
    } catch (e) {
      return null;
    }
  }

  return { newId: newId, el: el, shortTime: shortTime, parseJson: parseJson };
})();
