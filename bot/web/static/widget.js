/* The shop's chat widget: embed with one tag,
 *   <script src="https://BOT-HOST/chat/widget.js" defer></script>
 * optional attributes: data-name="shopper's name", data-lang="zh|en", data-open (start open).
 * Plain JavaScript, no build step. Every text from the shop or the shopper is shown with
 * textContent (never innerHTML), so markup in a message stays text. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__shopChatLoaded) { return; }
  window.__shopChatLoaded = true;
  var base = new URL(script.src, location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  var lpUrl = base.origin + "/chat/lp/";  // long-poll fallback: same frames over HTTP
  var forcePoll = script.hasAttribute("data-long-poll");
  var storeKey = "shopchat-token:" + base.origin;
  var name = script.getAttribute("data-name") || "";
  var lang = script.getAttribute("data-lang") || navigator.language || "zh";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  var css = el("link");
  css.rel = "stylesheet";
  css.href = base.origin + "/chat/widget.css";
  document.head.appendChild(css);

  var root = el("div", "scw-root");
  var launcher = el("button", "scw-launcher", "💬");
  launcher.type = "button";
  var panel = el("section", "scw-panel");
  panel.hidden = !script.hasAttribute("data-open");
  launcher.hidden = !panel.hidden;
  var header = el("header", "scw-header");
  var title = el("span", "scw-title");
  var closeBtn = el("button", "scw-close", "×");
  closeBtn.type = "button";
  header.appendChild(title);
  header.appendChild(closeBtn);
  var log = el("div", "scw-log");
  log.setAttribute("role", "log");
  log.setAttribute("aria-live", "polite");
  var typing = el("div", "scw-typing");
  typing.hidden = true;
  var status = el("div", "scw-status");
  status.hidden = true;
  var form = el("form", "scw-form");
  var input = el("textarea", "scw-input");
  input.rows = 2;
  var send = el("button", "scw-send");
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  var footer = el("footer", "scw-footer");
  var forget = el("button", "scw-forget");
  forget.type = "button";
  footer.appendChild(forget);
  [header, log, typing, status, form, footer].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel);
  root.appendChild(launcher);
  document.body.appendChild(root);

  var words = {};
  var limit = 4096;
  var socket = null;
  var ready = false;
  var outbox = [];   // frames not yet acknowledged, sent again after a reconnect
  var retry = 500;
  var counter = 0;
  var polling = forcePoll || !window.WebSocket;  // long polling instead of the socket
  var wsFailures = 0;  // sockets that closed before the hello: after 2, long polling
  var token = null;
  var seq = 0;

  function cid() {
    counter += 1;
    var random = (window.crypto && crypto.getRandomValues)
      ? Array.prototype.map.call(crypto.getRandomValues(new Uint32Array(2)),
        function (n) { return n.toString(36); }).join("")
      : String(Math.random()).slice(2);
    return Date.now().toString(36) + "-" + counter + "-" + random;
  }

  function scroll() { log.scrollTop = log.scrollHeight; }

  function bubble(from, text, id) {
    var item = el("div", "scw-msg scw-" + from);
    item.setAttribute("data-from", from);
    if (id !== undefined && id !== null) { item.setAttribute("data-id", String(id)); }
    item.appendChild(el("div", "scw-text", text));
    log.appendChild(item);
    scroll();
    return item;
  }

  function system(text, cls) {
    var item = el("div", "scw-system " + (cls || ""), text);
    log.appendChild(item);
    scroll();
  }

  function setButtons(item, rows, messageId) {
    var old = item.querySelector(".scw-buttons");
    if (old) { old.remove(); }
    if (!rows || !rows.length) { return; }
    var box = el("div", "scw-buttons");
    rows.forEach(function (row) {
      var line = el("div", "scw-row");
      row.forEach(function (b) {
        var button = el("button", "scw-button", b.text);
        button.type = "button";
        button.addEventListener("click", function () {
          bubble("me", b.text);
          post({ t: "button", data: b.data, label: b.text, mid: messageId, cid: cid() });
        });
        line.appendChild(button);
      });
      box.appendChild(line);
    });
    item.appendChild(box);
    scroll();
  }

  function shopMessage(event) {
    typing.hidden = true;
    var text = event.text || "";
    if (event.media && event.media.length && words.web_photo) {
      text = (words.web_photo + " " + text).trim();
    }
    var item = bubble("shop", text, event.id);
    setButtons(item, event.buttons, event.id);
  }

  function applyWords() {
    title.textContent = words.web_title || "";
    launcher.title = words.web_open || "";
    launcher.setAttribute("aria-label", words.web_open || "");
    closeBtn.title = words.web_close || "";
    closeBtn.setAttribute("aria-label", words.web_close || "");
    input.placeholder = words.web_placeholder || "";
    send.textContent = words.web_send || "→";
    forget.textContent = words.web_forget || "";
    typing.textContent = words.web_typing || "…";
    status.textContent = words.web_reconnecting || "…";
  }

  function handle(event) {
    if (event.t === "hello") {
      token = event.token;
      wsFailures = 0;
      try { localStorage.setItem(storeKey, event.token); } catch (e) { /* private mode */ }
      words = event.words || {};
      limit = event.limit || limit;
      applyWords();
      while (log.firstChild) { log.removeChild(log.firstChild); }
      (event.history || []).forEach(function (m) { bubble(m.from, m.text); });
      ready = true;
      status.hidden = true;
      retry = 500;
      outbox.forEach(transmit);
    } else if (event.t === "msg") {
      shopMessage(event);
    } else if (event.t === "edit") {
      var item = log.querySelector('[data-id="' + String(Number(event.id)) + '"]');
      if (!item) { return; }
      if (typeof event.text === "string" && event.text) {
        item.querySelector(".scw-text").textContent = event.text;
      }
      setButtons(item, event.buttons, event.id);
    } else if (event.t === "notice") {
      system(event.text);
    } else if (event.t === "typing") {
      typing.hidden = false;
    } else if (event.t === "ack") {
      outbox = outbox.filter(function (f) { return f.cid !== event.cid; });
    } else if (event.t === "error") {
      outbox = outbox.filter(function (f) { return f.cid !== event.cid; });
      typing.hidden = true;
      system(event.text, "scw-error");
    }
  }

  function lp(path, body) {
    return fetch(lpUrl + path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body), credentials: "omit", mode: "cors"
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    });
  }

  function transmit(frame) {
    if (polling) {
      lp("send", { token: token, frame: frame }).catch(function () { /* kept in outbox */ });
    } else if (socket && socket.readyState === 1) {
      socket.send(JSON.stringify(frame));
    }
  }

  function poll() {
    lp("poll", { token: token, since: seq }).then(function (answer) {
      (answer.events || []).forEach(function (event) {
        seq = Math.max(seq, event.seq || 0);
        handle(event);
      });
      seq = Math.max(seq, answer.seq || 0);
      poll();
    }).catch(function () {
      ready = false;
      status.hidden = false;
      setTimeout(connectPolling, retry);
      retry = Math.min(retry * 2, 8000);
    });
  }

  function connectPolling() {
    var saved = null;
    try { saved = localStorage.getItem(storeKey); } catch (e) { saved = null; }
    lp("hello", { token: saved, lang: lang, name: name }).then(function (hello) {
      handle(hello);
      seq = hello.seq || 0;
      poll();
    }).catch(function () {
      status.hidden = false;
      setTimeout(connectPolling, retry);
      retry = Math.min(retry * 2, 8000);
    });
  }

  function connect() {
    ready = false;
    if (polling) { connectPolling(); return; }
    var saved = null;
    try { saved = localStorage.getItem(storeKey); } catch (e) { saved = null; }
    var greeted = false;
    socket = new WebSocket(wsUrl);
    socket.addEventListener("open", function () {
      socket.send(JSON.stringify({ t: "hello", token: saved, lang: lang, name: name }));
    });
    socket.addEventListener("message", function (m) {
      var event;
      try { event = JSON.parse(m.data); } catch (e) { return; }
      if (event.t === "hello") { greeted = true; }
      handle(event);
    });
    socket.addEventListener("close", function () {
      ready = false;
      status.hidden = false;
      if (!greeted) {
        wsFailures += 1;
        if (wsFailures >= 2) { polling = true; }  // no socket gets through: long polling
      }
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 8000);
    });
  }

  function post(frame) {
    outbox.push(frame);
    if (ready) { transmit(frame); }
    typing.hidden = false;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    bubble("me", text);
    input.value = "";
    // Over the limit: one character more than allowed goes, and the shop's phrase says why
    // (the whole text could exceed the frame size and close the socket instead).
    post({ t: "text", text: text.length > limit ? text.slice(0, limit + 1) : text, cid: cid() });
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  forget.addEventListener("click", function () {
    post({ t: "text", text: "/forget", cid: cid() });
  });
  launcher.addEventListener("click", function () {
    panel.hidden = false;
    launcher.hidden = true;
    input.focus();
  });
  closeBtn.addEventListener("click", function () {
    panel.hidden = true;
    launcher.hidden = false;
  });
  connect();
}());
