/*!
 * shopchat operators' inbox — served at /operator. Signs in with the session cookie (HttpOnly: this script never
 * sees the token), then talks to /ws/operator (docs/protocol.md, "The operators' inbox").
 *
 * Why it is written this way:
 * - Everything from the network (customers' text, the model's, names, reasons) goes into the page as textContent;
 *   nothing is parsed as HTML.
 * - A watched conversation is resumed with the last seq seen, so a dropped connection neither repeats nor loses
 *   events; the queue is simply sent again.
 */
(function () {
  "use strict";

  var $ = function (id) {
    return document.getElementById(id);
  };
  var loginView = $("login");
  var appView = $("app");
  var layout = $("layout");
  var queueList = $("queue");
  var transcript = $("transcript");
  var replyText = $("reply-text");
  var baseTitle = document.title;

  var me = null;
  var ws = null;
  var attempt = 0;
  var retryTimer = null;
  var queue = [];
  var knownWaiting = new Set();
  var current = null; // { id, lastSeq, state, operatorName, answers: Map(message_id → element) }

  // ---- small helpers ---------------------------------------------------------------------------------------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function waited(seconds) {
    if (seconds == null) return "";
    var s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function who(customerId) {
    return customerId ? "Customer " + customerId : "Guest";
  }

  function displayName(name) {
    var text = String(name || "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  // ---- signing in --------------------------------------------------------------------------------------------

  function showLogin() {
    appView.hidden = true;
    loginView.hidden = false;
    $("login-name").focus();
  }

  function start() {
    fetch("/api/operator/me", { credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 401) return showLogin();
        if (!r.ok) throw new Error("status " + r.status);
        return r.json().then(function (info) {
          me = info;
          loginView.hidden = true;
          appView.hidden = false;
          $("me").textContent = "Signed in as " + displayName(info.name);
          connect();
        });
      })
      .catch(function () {
        $("connection").textContent = "The server cannot be reached.";
        retryTimer = setTimeout(start, 5000);
      });
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var error = $("login-error");
    error.textContent = "";
    fetch("/api/operator/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }),
    })
      .then(function (r) {
        if (r.ok) {
          $("login-password").value = "";
          return start();
        }
        return r.json().then(function (body) {
          error.textContent = (body && body.error && body.error.message) || "Sign-in failed.";
        });
      })
      .catch(function () {
        error.textContent = "The server cannot be reached.";
      });
  });

  $("logout").addEventListener("click", function () {
    fetch("/api/operator/logout", { method: "POST", credentials: "same-origin" }).finally(function () {
      if (ws) {
        ws.onclose = null;
        ws.close(1000);
        ws = null;
      }
      showLogin();
    });
  });

  // ---- the socket --------------------------------------------------------------------------------------------

  function connect() {
    clearTimeout(retryTimer);
    var url = new URL("/ws/operator", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(url.href);
    $("connection").textContent = "Connecting…";
    ws.onopen = function () {
      attempt = 0;
      $("connection").textContent = "Online";
      if (current) send({ type: "conversation", conversation_id: current.id, last_seq: current.lastSeq });
    };
    ws.onmessage = function (m) {
      var frame;
      try {
        frame = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      handle(frame);
    };
    ws.onclose = function (e) {
      ws = null;
      if (e.code === 4401 || e.code === 1008) return showLogin();
      $("connection").textContent = "Reconnecting…";
      attempt += 1;
      retryTimer = setTimeout(function () {
        // The session may have ended meanwhile: start() asks, and signs in again if it did.
        start();
      }, Math.min(30000, 500 * Math.pow(2, attempt)));
    };
  }

  function send(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function handle(f) {
    switch (f.type) {
      case "hello":
        me = f.operator;
        break;
      case "queue":
        renderQueue(f.items || []);
        break;
      case "conversation":
        onConversation(f);
        break;
      case "event":
        if (current && f.conversation_id === current.id) onEvent(f.event);
        break;
      case "done_action":
        $("action-error").textContent = "";
        if (f.action === "say") {
          replyText.value = "";
          replyText.focus();
        }
        break;
      case "error":
        $("action-error").textContent = String(f.message || f.code || "Something went wrong.");
        break;
    }
  }

  // ---- the queue ---------------------------------------------------------------------------------------------

  function renderQueue(items) {
    queue = items;
    var waiting = items.filter(function (i) {
      return i.state === "waiting";
    });
    var fresh = waiting.some(function (i) {
      return !knownWaiting.has(i.conversation_id);
    });
    knownWaiting = new Set(
      waiting.map(function (i) {
        return i.conversation_id;
      }),
    );
    if (fresh) chime();
    document.title = (waiting.length ? "(" + waiting.length + ") " : "") + baseTitle;
    $("queue-count").textContent = waiting.length ? String(waiting.length) : "";
    $("queue-empty").hidden = items.length > 0;
    queueList.replaceChildren();
    var received = Date.now();
    items.forEach(function (item) {
      var button = el("button", "op-queue-item");
      button.type = "button";
      button.setAttribute("data-state", item.state);
      button.setAttribute("data-conversation-id", item.conversation_id);
      if (current && current.id === item.conversation_id) button.setAttribute("aria-current", "true");
      var top = el("span", "op-queue-top");
      top.append(el("span", "op-queue-who", who(item.customer_id)));
      top.append(el("span", "op-badge op-badge--" + item.state, label(item)));
      var since = el("span", "op-queue-wait", waited(item.waiting_s));
      since.setAttribute("data-waiting-s", String(item.waiting_s == null ? "" : item.waiting_s));
      since.setAttribute("data-received", String(received));
      top.append(since);
      button.append(top);
      if (item.reason) button.append(el("span", "op-queue-reason", item.reason));
      if (item.ticket_email) button.append(el("span", "op-queue-ticket", "Ticket: " + item.ticket_email));
      button.addEventListener("click", function () {
        open(item.conversation_id);
      });
      var li = el("li");
      li.append(button);
      queueList.append(li);
    });
  }

  function label(item) {
    if (item.state === "waiting") return "waiting";
    if (item.state === "human") return "with " + displayName(item.operator_name);
    if (item.ticket_email) return "ticket";
    return item.state;
  }

  // Waiting times tick on without asking the server.
  setInterval(function () {
    var now = Date.now();
    document.querySelectorAll(".op-queue-wait").forEach(function (node) {
      var base = parseFloat(node.getAttribute("data-waiting-s"));
      if (isNaN(base)) return;
      var since = parseFloat(node.getAttribute("data-received"));
      node.textContent = waited(base + (now - since) / 1000);
    });
  }, 1000);

  var audio = null;
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.4);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.4);
    } catch (e) {
      /* no sound: the title still counts */
    }
  }

  // ---- one conversation ------------------------------------------------------------------------------------

  function open(conversationId) {
    current = { id: conversationId, lastSeq: 0, state: null, operatorName: null, answers: new Map() };
    transcript.replaceChildren();
    $("orders").replaceChildren();
    $("recommendations").replaceChildren();
    $("action-error").textContent = "";
    layout.setAttribute("data-view", "conversation");
    send({ type: "conversation", conversation_id: conversationId, last_seq: 0 });
    renderQueue(queue);
  }

  function onConversation(f) {
    if (!current || current.id !== f.conversation_id) return;
    $("conversation-title").textContent = who(f.customer_id);
    var meta = [];
    if (f.reason) meta.push("Reason: " + f.reason);
    if (f.ticket_email) meta.push("Email: " + f.ticket_email);
    $("conversation-meta").textContent = meta.join(" · ");
    setState(f.state, f.operator_name);
    var orders = $("orders");
    orders.replaceChildren();
    (f.orders || []).forEach(function (o) {
      var li = el("li", "op-order");
      li.append(el("strong", null, "#" + o.order_id + " · " + o.status));
      li.append(el("span", "op-muted", new Date(o.placed_at).toLocaleDateString()));
      (o.items || []).forEach(function (line) {
        li.append(el("span", null, line.quantity + " × " + line.name));
      });
      orders.append(li);
    });
    if (!orders.children.length) orders.append(el("li", "op-muted", "No orders."));
    var recs = $("recommendations");
    recs.replaceChildren();
    (f.recommendations || []).forEach(function (r) {
      recs.append(el("li", null, r.name + " · " + r.price.toFixed(2) + " " + r.currency));
    });
    if (!recs.children.length) recs.append(el("li", "op-muted", "None."));
  }

  function setState(state, operatorName) {
    current.state = state;
    current.operatorName = operatorName || null;
    var mine = state === "human" && me && operatorName === me.name;
    $("take").disabled = !(state === "waiting" || state === "bot");
    $("release").disabled = !(state === "waiting" || mine);
    $("close").disabled = state === "closed" || (state === "human" && !mine);
    replyText.disabled = !mine;
    $("send").disabled = !mine;
    replyText.placeholder = mine ? "Write to the customer (Enter sends, Shift+Enter for a new line)" : "Take the conversation to reply";
  }

  function line(cls, speaker, text) {
    var li = el("li", "op-line " + cls);
    if (speaker) li.append(el("span", "op-speaker", speaker));
    li.append(el("span", "op-text", text));
    transcript.append(li);
    li.scrollIntoView({ block: "end" });
    return li;
  }

  function onEvent(e) {
    if (typeof e.seq === "number") {
      if (e.seq <= current.lastSeq) return;
      current.lastSeq = e.seq;
    }
    switch (e.type) {
      case "accepted":
        line("op-line--customer", "Customer", e.text);
        break;
      case "delta": {
        var answer = current.answers.get(e.message_id);
        if (!answer) {
          answer = line("op-line--bot", "Assistant", "");
          current.answers.set(e.message_id, answer);
        }
        answer.lastChild.textContent += e.text;
        break;
      }
      case "reset": {
        var partial = current.answers.get(e.message_id);
        if (partial) partial.lastChild.textContent = "";
        break;
      }
      case "done": {
        if (e.held) break;
        var done = current.answers.get(e.message_id);
        if (!done && e.text) done = line("op-line--bot", "Assistant", "");
        if (done) {
          done.lastChild.textContent = e.text;
          if (e.stopped) done.append(el("span", "op-muted", " (stopped)"));
        }
        current.answers.delete(e.message_id);
        break;
      }
      case "tool_call":
        line("op-line--tool", null, "Tool " + e.name + " " + JSON.stringify(e.arguments || {}));
        break;
      case "tool_result":
        line("op-line--tool", null, (e.ok ? "✓ " : "✗ ") + e.summary);
        break;
      case "confirm":
        line("op-line--tool", null, "Asked the customer to confirm: " + e.summary);
        break;
      case "error":
        line("op-line--error", null, "Error: " + e.message);
        break;
      case "agent_message":
        line("op-line--agent", displayName(e.operator_name), e.text);
        break;
      case "handoff":
        line("op-line--handoff", null, e.message);
        if (e.status === "waiting") setState("waiting");
        else if (e.status === "joined") setState("human", e.operator_name);
        else if (e.status === "returned") setState("bot");
        else if (e.status === "closed") setState("closed");
        break;
    }
  }

  $("take").addEventListener("click", function () {
    if (current) send({ type: "take", conversation_id: current.id });
  });
  $("release").addEventListener("click", function () {
    if (current) send({ type: "release", conversation_id: current.id });
  });
  $("close").addEventListener("click", function () {
    if (current) send({ type: "close", conversation_id: current.id });
  });
  $("back").addEventListener("click", function () {
    layout.setAttribute("data-view", "queue");
  });
  $("reply").addEventListener("submit", function (e) {
    e.preventDefault();
    var text = replyText.value.trim();
    if (!current || !text) return;
    send({ type: "say", conversation_id: current.id, text: text });
  });
  replyText.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $("reply").requestSubmit();
    }
  });

  start();
})();
