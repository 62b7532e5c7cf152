/* The offline playground's agent panel: the agents' forum group, played in the browser.
 * Topics are created and posted to by the bot's agent console exactly as in Telegram; what
 * the agent types here goes to the bot as a message in the chosen topic. Text is shown with
 * textContent only. */
(function () {
  "use strict";
  var list = document.getElementById("pg-topic-list");
  var log = document.getElementById("pg-log");
  var title = document.getElementById("pg-thread-title");
  var form = document.getElementById("pg-form");
  var input = document.getElementById("pg-input");
  var topics = {};   // thread → {name, posts: [event], button}
  var current = 0;   // 0: the group's General thread
  var socket = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function topic(thread) {
    if (!topics[thread]) {
      var button = el("button", "pg-topic", thread ? "#" + thread : "General");
      button.type = "button";
      button.setAttribute("data-thread", String(thread));
      button.addEventListener("click", function () { show(thread); });
      list.appendChild(button);
      topics[thread] = { name: thread ? "#" + thread : "General", posts: [], button: button };
    }
    return topics[thread];
  }

  function render(event) {
    var post = el("div", "pg-post" + (event.mine ? " pg-mine" : ""), event.text);
    post.setAttribute("data-id", String(event.id || ""));
    (event.buttons || []).forEach(function (row) {
      row.forEach(function (b) {
        var button = el("button", "pg-post-button", b.text);
        button.type = "button";
        button.addEventListener("click", function () {
          send({ t: "button", data: b.data, mid: event.id, thread: current || null });
        });
        post.appendChild(button);
      });
    });
    log.appendChild(post);
    log.scrollTop = log.scrollHeight;
  }

  function show(thread) {
    current = thread;
    var t = topic(thread);
    title.textContent = t.name;
    Object.keys(topics).forEach(function (k) {
      topics[k].button.classList.toggle("pg-current", Number(k) === thread);
    });
    while (log.firstChild) { log.removeChild(log.firstChild); }
    t.posts.forEach(render);
  }

  function handle(event) {
    var thread = event.thread || 0;
    if (event.t === "topic") {
      var t = topic(event.thread);
      if (event.name) { t.name = event.name; t.button.textContent = event.name; }
      if (current === event.thread) { title.textContent = t.name; }
      if (!current) { show(event.thread); }
      return;
    }
    if (event.t === "msg" || event.t === "notice") {
      var target = topic(event.t === "notice" ? current : thread);
      target.posts.push(event);
      if ((event.t === "notice" ? current : thread) === current) { render(event); }
    }
  }

  function send(frame) {
    if (socket && socket.readyState === 1) { socket.send(JSON.stringify(frame)); }
  }

  function say(text) {
    var event = { text: text, mine: true };
    topic(current).posts.push(event);
    render(event);
    send({ t: "text", text: text, thread: current || null });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/chat/agents");
    socket.addEventListener("message", function (m) {
      try { handle(JSON.parse(m.data)); } catch (e) { /* ignore */ }
    });
    socket.addEventListener("close", function () { setTimeout(connect, 1000); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (text) { say(text); input.value = ""; }
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-command]"), function (b) {
    b.addEventListener("click", function () { say(b.getAttribute("data-command")); });
  });
  show(0);
  connect();
}());
