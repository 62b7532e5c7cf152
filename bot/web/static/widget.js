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
  // A picture: the button opens the file chooser; the text typed so far is its caption.
  var attach = el("button", "scw-attach", "📷");
  attach.type = "button";
  var file = el("input", "scw-file");
  file.type = "file";
  file.accept = "image/jpeg,image/png,image/webp";
  file.hidden = true;
  form.appendChild(attach);
  form.appendChild(file);
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
  var imageLimit = 5 * 1024 * 1024;
  var socket = null;
  var ready = false;
  var outbox = [];   // frames not yet acknowledged, sent again after a reconnect
  var retry = 500;
  var counter = 0;
  var polling = forcePoll || !window.WebSocket;  // long polling instead of the socket
  var wsFailures = 0;  // sockets that closed before the hello: after 2, long polling
  var token = null;
  var cursor = "";  // long polling: where the next poll resumes (any server process)

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

  // A picture in a bubble: a local file as it is, a stored one fetched with the visitor's
  // token (the bot serves a picture only to the visitor it belongs to).
  function picture(item, source) {
    var img = el("img", "scw-img");
    img.alt = words.web_photo || "";
    img.addEventListener("load", scroll);
    item.insertBefore(img, item.firstChild);
    if (source instanceof Blob) {
      img.src = URL.createObjectURL(source);
      return;
    }
    fetch(base.origin + "/chat/img/" + encodeURIComponent(String(source)), {
      headers: { "X-Chat-Token": token || "" }, credentials: "omit", mode: "cors"
    }).then(function (r) {
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.blob();
    }).then(function (blob) {
      img.src = URL.createObjectURL(blob);
    }).catch(function () { img.remove(); });
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
    if (event.media && event.media.length && !event.image && words.web_photo) {
      text = (words.web_photo + " " + text).trim();
    }
    var item = bubble("shop", text, event.id);
    if (event.image) { picture(item, event.image); }
    setButtons(item, event.buttons, event.id);
  }

  function historyItem(m) {
    var item = bubble(m.from, m.text);
    if (m.image) { picture(item, m.image); }
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
    attach.title = words.web_attach || "";
    attach.setAttribute("aria-label", words.web_attach || "");
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
      imageLimit = event.image_limit || imageLimit;
      applyWords();
      while (log.firstChild) { log.removeChild(log.firstChild); }
      (event.history || []).forEach(historyItem);
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
      lp("send", { token: token, lang: lang, name: name, frame: frame }).then(function (answer) {
        (answer.events || []).forEach(handle);  // the ack, or an error to show
      }).catch(function () { /* kept in outbox */ });
    } else if (socket && socket.readyState === 1) {
      socket.send(JSON.stringify(frame));
    }
  }

  function poll() {
    lp("poll", { token: token, lang: lang, name: name, cursor: cursor }).then(function (answer) {
      (answer.events || []).forEach(handle);
      cursor = answer.cursor || cursor;
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
      cursor = hello.cursor || "";
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
  attach.addEventListener("click", function () { file.click(); });
  file.addEventListener("change", function () {
    var chosen = file.files && file.files[0];
    file.value = "";
    if (!chosen) { return; }
    if (chosen.size > imageLimit) {  // the server checks again; this saves the upload
      system(words.web_image_too_big || "", "scw-error");
      return;
    }
    var caption = input.value.trim();
    var id = cid();
    var form = new FormData();
    form.append("cid", id);
    form.append("caption", caption);
    form.append("lang", lang);
    form.append("name", name);
    form.append("file", chosen, "upload");
    var mine = bubble("me", caption);
    picture(mine, chosen);
    input.value = "";
    typing.hidden = false;
    function refused(text) {  // not kept by the shop: the bubble goes, the error says why
      typing.hidden = true;
      mine.remove();
      if (!input.value) { input.value = caption; }
      system(text || words.web_image_failed || "", "scw-error");
    }
    fetch(base.origin + "/chat/upload?lang=" + encodeURIComponent(lang), {
      method: "POST", body: form, headers: { "X-Chat-Token": token || "" },
      credentials: "omit", mode: "cors"
    }).then(function (r) {
      return r.json().catch(function () { return { t: "error", text: "" }; });
    }).then(function (answer) {
      if (answer.t === "ack") {
        mine.setAttribute("data-image", String(answer.image));
      } else {
        refused(answer.text);
      }
    }).catch(function () { refused(""); });
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
