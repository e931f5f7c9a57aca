/*!
 * shopchat widget — embed with
 *   <script src="https://SHOP-CHAT-HOST/static/widget.js" data-server="https://SHOP-CHAT-HOST" defer></script>
 * Optional attributes: data-customer-id, data-title, data-accent-color, data-lang (en, de), data-max-chars.
 *
 * Design notes (the "why"):
 * - Everything lives in one Shadow DOM so the shop's CSS cannot style the widget and ours cannot leak out;
 *   the only global is `window.ShopChat`.
 * - Nothing received from the network is ever parsed as HTML: answers go through a tiny Markdown renderer
 *   that builds DOM nodes with createElement/textContent and only makes http(s)/mailto links to the shop's own
 *   domains clickable (a model talked into writing a phishing link cannot make it one); others stay text.
 * - The websocket protocol (docs/protocol.md) numbers every stored event with `seq`; we remember the last one
 *   we saw and resume from it, ignoring anything we already have, so a flaky connection never duplicates or
 *   loses text. Unsent messages wait in a localStorage outbox with client-chosen ids, so resending is harmless.
 */
(function () {
  "use strict";

  if (window.ShopChat) return; // loaded twice: keep the first instance

  var VERSION = "1.0.0";
  var SVG_NS = "http://www.w3.org/2000/svg";

  // ---- configuration from the <script> tag --------------------------------------------------------------

  var script =
    document.currentScript ||
    document.querySelector('script[src*="widget.js"][data-server]') ||
    document.querySelector('script[src*="widget.js"]');
  var ds = (script && script.dataset) || {};
  var scriptUrl = new URL((script && script.src) || "/static/widget.js", location.href);
  var serverBase = trimSlash(ds.server || scriptUrl.origin);
  var wsUrlBase = new URL("ws/chat", serverBase + "/");
  wsUrlBase.protocol = wsUrlBase.protocol === "https:" ? "wss:" : "ws:";
  var cssUrl = new URL("widget.css", scriptUrl);
  cssUrl.search = scriptUrl.search; // cache-busting query (if any) applies to both files

  var maxChars = parseInt(ds.maxChars || "", 10);
  if (!(maxChars > 0)) maxChars = 2000;

  // ---- translations ------------------------------------------------------------------------------------

  var STRINGS = {
    en: {
      title: "Shop assistant",
      openChat: "Open chat",
      closeChat: "Close chat",
      newConversation: "Start a new conversation",
      online: "Online · replies instantly",
      delayed: "Online · replies may be delayed",
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      offline: "You are offline",
      bannerReconnecting: "Connection lost. Reconnecting…",
      bannerOffline: "You are offline. Your messages will be sent when you are back online.",
      bannerFailed: "The chat is unavailable right now.",
      tryNow: "Try now",
      greeting:
        "Hi there! How can we help? Ask me about orders, delivery or returns — or let me recommend something you'll love.",
      starters: ["Recommend me something", "How long does delivery take?", "What is your return policy?"],
      placeholder: "Write a message…",
      inputLabel: "Your message",
      send: "Send message",
      stop: "Stop the answer",
      stopping: "Stopping…",
      sending: "Sending…",
      waiting: "Waiting for connection — will send automatically",
      notSent: "Not sent.",
      retry: "Retry",
      edit: "Edit message",
      you: "You said",
      assistant: "Assistant",
      typing: "The assistant is typing",
      stopped: "You stopped this answer.",
      helpful: "Helpful",
      notHelpful: "Not helpful",
      thanks: "Thanks for your feedback!",
      feedbackFailed: "Your feedback could not be saved.",
      commentPlaceholder: "What could be better? (optional)",
      commentLabel: "Tell us more",
      commentSend: "Send feedback",
      recommended: "Recommended for you",
      // What the assistant is doing while it uses a tool; {arg} is the call's main argument.
      tools: {
        get_order_details: "Looking up order {arg}…",
        find_customer_orders: "Looking up your orders…",
        cancel_pending_order: "Cancelling order {arg}…",
        return_delivered_order_items: "Requesting a return for order {arg}…",
        modify_pending_order_address: "Changing the address of order {arg}…",
        search_products: "Searching the catalog for “{arg}”…",
        recommend_products: "Finding products for you…",
        transfer_to_human_agents: "Passing this on to a person…",
      },
      toolWorking: "Working on it…",
      moreLikeThis: "More like this",
      moreLikeThisText: "Can you recommend more products like these?",
      cheaper: "Cheaper",
      cheaperText: "Can you recommend something cheaper?",
      counter: "{n} / {max}",
      tooLong: "Your message is {over} characters too long.",
      newAnswer: "New answer: {text}",
      poweredBy: "Powered by shopchat",
      errors: {
        rate_limited: "You are sending messages a bit quickly. Please wait a moment and try again.",
        rate_limited_s: "You are sending messages a bit quickly. Please try again in {s} seconds.",
        message_too_long: "This message is too long. Please shorten it to {max} characters.",
        message_too_many_tokens: "This message is too long for the assistant to read. Please shorten it.",
        model_timeout: "The assistant took too long to answer. Please try again.",
        model_unavailable: "The assistant is not available right now. Please try again in a moment.",
        model: "The assistant could not answer just now. Please try again.",
        not_found: "That message could not be found.",
        internal: "Something went wrong on our side. Please try again.",
        generic: "Something went wrong. Please try again.",
      },
    },
    de: {
      title: "Shop-Assistent",
      openChat: "Chat öffnen",
      closeChat: "Chat schließen",
      newConversation: "Neue Unterhaltung beginnen",
      online: "Online · antwortet sofort",
      delayed: "Online · Antworten können sich verzögern",
      connecting: "Verbinde…",
      reconnecting: "Verbinde erneut…",
      offline: "Du bist offline",
      bannerReconnecting: "Verbindung unterbrochen. Verbinde erneut…",
      bannerOffline: "Du bist offline. Deine Nachrichten werden gesendet, sobald du wieder online bist.",
      bannerFailed: "Der Chat ist gerade nicht erreichbar.",
      tryNow: "Jetzt versuchen",
      greeting:
        "Hallo! Wie können wir helfen? Frag mich nach Bestellungen, Lieferung oder Rücksendungen — oder lass dir etwas empfehlen.",
      starters: ["Empfiehl mir etwas", "Wie lange dauert die Lieferung?", "Wie funktioniert die Rückgabe?"],
      placeholder: "Nachricht schreiben…",
      inputLabel: "Deine Nachricht",
      send: "Nachricht senden",
      stop: "Antwort stoppen",
      stopping: "Wird gestoppt…",
      sending: "Wird gesendet…",
      waiting: "Warte auf Verbindung — wird automatisch gesendet",
      notSent: "Nicht gesendet.",
      retry: "Erneut versuchen",
      edit: "Nachricht bearbeiten",
      you: "Du hast geschrieben",
      assistant: "Assistent",
      typing: "Der Assistent schreibt",
      stopped: "Du hast diese Antwort gestoppt.",
      helpful: "Hilfreich",
      notHelpful: "Nicht hilfreich",
      thanks: "Danke für dein Feedback!",
      feedbackFailed: "Dein Feedback konnte nicht gespeichert werden.",
      commentPlaceholder: "Was war nicht gut? (optional)",
      commentLabel: "Erzähl uns mehr",
      commentSend: "Feedback senden",
      recommended: "Empfehlungen für dich",
      tools: {
        get_order_details: "Suche Bestellung {arg}…",
        find_customer_orders: "Suche deine Bestellungen…",
        cancel_pending_order: "Storniere Bestellung {arg}…",
        return_delivered_order_items: "Melde eine Rücksendung für Bestellung {arg} an…",
        modify_pending_order_address: "Ändere die Adresse von Bestellung {arg}…",
        search_products: "Durchsuche den Katalog nach „{arg}“…",
        recommend_products: "Suche passende Produkte…",
        transfer_to_human_agents: "Gebe das an einen Menschen weiter…",
      },
      toolWorking: "Einen Moment…",
      moreLikeThis: "Mehr davon",
      moreLikeThisText: "Kannst du mir mehr Produkte wie diese empfehlen?",
      cheaper: "Günstiger",
      cheaperText: "Kannst du mir etwas Günstigeres empfehlen?",
      counter: "{n} / {max}",
      tooLong: "Deine Nachricht ist {over} Zeichen zu lang.",
      newAnswer: "Neue Antwort: {text}",
      poweredBy: "Bereitgestellt von shopchat",
      errors: {
        rate_limited: "Du sendest gerade sehr schnell. Bitte warte kurz und versuche es erneut.",
        rate_limited_s: "Du sendest gerade sehr schnell. Bitte versuche es in {s} Sekunden erneut.",
        message_too_long: "Diese Nachricht ist zu lang. Bitte kürze sie auf {max} Zeichen.",
        message_too_many_tokens: "Diese Nachricht ist zu lang für den Assistenten. Bitte kürze sie.",
        model_timeout: "Der Assistent hat zu lange gebraucht. Bitte versuche es erneut.",
        model_unavailable: "Der Assistent ist gerade nicht erreichbar. Bitte versuche es gleich noch einmal.",
        model: "Der Assistent konnte gerade nicht antworten. Bitte versuche es erneut.",
        not_found: "Diese Nachricht wurde nicht gefunden.",
        internal: "Bei uns ist etwas schiefgelaufen. Bitte versuche es erneut.",
        generic: "Etwas ist schiefgelaufen. Bitte versuche es erneut.",
      },
    },
  };

  var lang = pickLang(ds.lang);
  var T = STRINGS[lang];

  function pickLang(wanted) {
    var candidates = [wanted, document.documentElement.lang, navigator.language];
    for (var i = 0; i < candidates.length; i++) {
      var code = String(candidates[i] || "").toLowerCase().split("-")[0];
      if (STRINGS[code]) return code;
    }
    return "en";
  }

  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_, key) {
      return values && key in values ? String(values[key]) : "";
    });
  }

  function trimSlash(url) {
    return String(url).replace(/\/+$/, "");
  }

  // ---- persistence -------------------------------------------------------------------------------------
  // One localStorage entry per server: {conv: {id, token, customerId}, outbox: [{id, text}], feedback: {id: ±1}}.
  // Storage can be unavailable (privacy modes); the widget then keeps state in memory only.

  var STORE_KEY = "shopchat:v1:" + serverBase;
  var OPEN_KEY = "shopchat:open:" + serverBase;

  function loadStore() {
    try {
      var raw = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (raw && typeof raw === "object") {
        return {
          conv: raw.conv && raw.conv.id && raw.conv.token ? raw.conv : null,
          outbox: Array.isArray(raw.outbox) ? dedupe(raw.outbox.filter(validOutboxItem)) : [],
          feedback: raw.feedback && typeof raw.feedback === "object" ? raw.feedback : {},
        };
      }
    } catch (e) {
      /* corrupt or unavailable storage: start fresh */
    }
    return { conv: null, outbox: [], feedback: {} };
  }

  function dedupe(items) {
    // Two tabs can queue the same message; it is shown (and sent) once.
    var seen = {};
    return items.filter(function (item) {
      if (seen[item.id]) return false;
      seen[item.id] = true;
      return true;
    });
  }

  function validOutboxItem(item) {
    return item && typeof item.id === "string" && typeof item.text === "string";
  }

  function saveStore() {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(store));
    } catch (e) {
      /* quota or privacy mode: in-memory only */
    }
  }

  var store = loadStore();
  var customerId = ds.customerId ? String(ds.customerId) : store.conv ? store.conv.customerId || null : null;
  // Shops that sign customer ids (SHOPCHAT_CUSTOMER_SIGNING_KEY) render the signature next to the id.
  var customerSig = ds.customerSig ? String(ds.customerSig) : null;
  if (store.conv && ds.customerId && store.conv.customerId !== String(ds.customerId)) {
    // The page says this is a different customer: their conversation must not be shown.
    store = { conv: null, outbox: [], feedback: {} };
    saveStore();
  }

  // ---- tiny DOM helpers ---------------------------------------------------------------------------------

  /** Create an element; `props` keys: class, text, attrs (object), on (object of listeners). */
  function el(tag, props, children) {
    var node = document.createElement(tag);
    props = props || {};
    if (props.class) node.className = props.class;
    if (props.text != null) node.textContent = props.text;
    if (props.attrs) {
      for (var name in props.attrs) {
        if (props.attrs[name] != null && props.attrs[name] !== false) node.setAttribute(name, props.attrs[name]);
      }
    }
    if (props.on) {
      for (var ev in props.on) node.addEventListener(ev, props.on[ev]);
    }
    (children || []).forEach(function (child) {
      if (child != null) node.append(child);
    });
    return node;
  }

  // Icon paths (24×24, stroked) — static strings shipped with the widget, never from the network.
  var ICONS = {
    chat: ["M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"],
    close: ["M18 6 6 18", "M6 6l12 12"],
    chevron: ["M6 9l6 6 6-6"],
    send: ["M12 19V5", "M5 12l7-7 7 7"],
    refresh: ["M3 12a9 9 0 1 0 3-6.7L3 8", "M3 3v5h5"],
    clock: ["M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 6v6l4 2"],
    alert: ["M12 22a10 10 0 1 0 0-20 10 10 0 0 0 0 20z", "M12 8v4", "M12 16h.01"],
    up: [
      "M7 10v12",
      "M15 5.88 14 10h5.83a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2a3.13 3.13 0 0 1 3 3.88Z",
    ],
    down: [
      "M17 14V2",
      "M9 18.12 10 14H4.17a2 2 0 0 1-1.92-2.56l2.33-8A2 2 0 0 1 6.5 2H20a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2h-2.76a2 2 0 0 0-1.79 1.11L12 22a3.13 3.13 0 0 1-3-3.88Z",
    ],
    sparkles: [
      "M9.94 15.5A2 2 0 0 0 8.5 14.06l-6.14-1.58a.5.5 0 0 1 0-.96L8.5 9.94A2 2 0 0 0 9.94 8.5l1.58-6.14a.5.5 0 0 1 .96 0l1.58 6.14A2 2 0 0 0 15.5 9.94l6.14 1.58a.5.5 0 0 1 0 .96L15.5 14.06a2 2 0 0 0-1.44 1.44l-1.58 6.14a.5.5 0 0 1-.96 0z",
    ],
  };

  function icon(name, cls) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "sc-icon" + (cls ? " " + cls : ""));
    ICONS[name].forEach(function (d) {
      var path = document.createElementNS(SVG_NS, "path");
      path.setAttribute("d", d);
      svg.appendChild(path);
    });
    return svg;
  }

  // ---- safe Markdown subset -----------------------------------------------------------------------------
  // Paragraphs, line breaks, bullet/numbered lists, headings (as bold lines), **bold**, *italic*, `code`,
  // [links](https://…) and bare URLs. Output is DOM nodes only; unknown syntax stays literal text.

  var INLINE_RE = new RegExp(
    [
      "(`+)([^`]+?)\\1", // 1,2 code
      "\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*", // 3 bold
      "__(?=\\S)([\\s\\S]*?\\S)__", // 4 bold
      "\\[([^\\[\\]\\n]+)\\]\\(\\s*<?([^\\s<>]+?)>?(?:\\s+\"[^\"\\n]*\")?\\s*\\)", // 5,6 link
      "(\\bhttps?:\\/\\/[^\\s<>\"'`]*[^\\s<>\"'`.,;:!?)\\]])", // 7 bare URL
      "(\\bmailto:[^\\s<>\"'`()]+[^\\s<>\"'`.,;:!?()])", // 8 bare mailto
      "\\*(?=[^\\s*])([^*\\n]*?[^\\s*])\\*", // 9 italic
      "(?<![\\w])_(?=[^\\s_])([^_\\n]*?[^\\s_])_(?![\\w])", // 10 italic
    ].join("|"),
    "g",
  );

  // Domains whose links are clickable: the server's list from /api/shop (shop.toml, by default the server's
  // own host and the shop's website), each with its subdomains. Until it arrives, only the server's own host.
  var linkDomains = [new URL(serverBase).hostname.toLowerCase()];

  function ownDomain(host) {
    host = String(host || "").toLowerCase().replace(/\.$/, "");
    return (
      !!host &&
      linkDomains.some(function (domain) {
        return host === domain || host.slice(-domain.length - 1) === "." + domain;
      })
    );
  }

  /** The href to use for a link target, or null unless it is an absolute http(s)/mailto URL to a shop domain. */
  function safeHref(raw) {
    var url;
    try {
      url = new URL(String(raw).trim());
    } catch (e) {
      return null; // relative or malformed: not a link
    }
    if (url.protocol === "mailto:") {
      // Every recipient must be at a shop domain, and no cc/bcc/to may add others.
      var recipients;
      try {
        recipients = decodeURIComponent(url.pathname).split(",");
      } catch (e) {
        return null;
      }
      var params = url.searchParams;
      if (params.has("to") || params.has("cc") || params.has("bcc")) return null;
      var allOwn = recipients.every(function (address) {
        var at = address.lastIndexOf("@");
        return at > 0 && ownDomain(address.slice(at + 1).trim());
      });
      return allOwn ? url.href : null;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    return ownDomain(url.hostname) ? url.href : null;
  }

  function makeLink(href, label) {
    var a = el("a", {
      attrs: { href: href, target: "_blank", rel: "noopener noreferrer nofollow" },
    });
    a.append(label);
    return a;
  }

  function renderInline(text, parent, allowLinks) {
    var last = 0;
    var m;
    INLINE_RE.lastIndex = 0;
    var matches = [];
    while ((m = INLINE_RE.exec(text)) !== null) {
      matches.push({ index: m.index, end: INLINE_RE.lastIndex, m: m.slice() });
      if (m[0].length === 0) INLINE_RE.lastIndex++;
    }
    matches.forEach(function (match) {
      var g = match.m;
      if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
      last = match.end;
      if (g[2] != null) {
        parent.append(el("code", { text: g[2] }));
      } else if (g[3] != null || g[4] != null) {
        var strong = el("strong");
        renderInline(g[3] != null ? g[3] : g[4], strong, allowLinks);
        parent.append(strong);
      } else if (g[5] != null) {
        var href = allowLinks ? safeHref(g[6]) : null;
        if (href) {
          var label = document.createDocumentFragment();
          renderInline(g[5], label, false);
          parent.append(makeLink(href, label));
        } else {
          parent.append(document.createTextNode(g[0])); // unsafe or nested link: show it as typed
        }
      } else if (g[7] != null || g[8] != null) {
        var raw = g[7] != null ? g[7] : g[8];
        var bare = allowLinks ? safeHref(raw) : null;
        parent.append(bare ? makeLink(bare, document.createTextNode(raw)) : document.createTextNode(raw));
      } else if (g[9] != null || g[10] != null) {
        var em = el("em");
        renderInline(g[9] != null ? g[9] : g[10], em, allowLinks);
        parent.append(em);
      }
    });
    if (last < text.length) parent.append(document.createTextNode(text.slice(last)));
  }

  /** Render a Markdown string to a DocumentFragment of safe nodes. */
  function renderMarkdown(source) {
    var frag = document.createDocumentFragment();
    var lines = String(source == null ? "" : source)
      .replace(/\r\n?/g, "\n")
      .split("\n");
    var para = null; // lines of the open paragraph
    var list = null; // {node, lastItemText, lastItem}

    function flushPara() {
      if (!para) return;
      var p = el("p");
      para.forEach(function (line, i) {
        if (i) p.append(el("br"));
        renderInline(line, p, true);
      });
      frag.append(p);
      para = null;
    }
    function flushList() {
      list = null;
    }
    function addItem(ordered, text, start) {
      if (!list || list.ordered !== ordered) {
        flushList();
        var node = el(ordered ? "ol" : "ul");
        if (ordered && start > 1) node.setAttribute("start", String(start));
        frag.append(node);
        list = { ordered: ordered, node: node };
      }
      var li = el("li");
      renderInline(text, li, true);
      list.node.append(li);
      list.lastItem = li;
    }

    lines.forEach(function (line) {
      var trimmed = line.trim();
      var m;
      if (!trimmed) {
        flushPara();
        flushList();
      } else if ((m = /^[-*+•]\s+(.*)$/.exec(trimmed))) {
        flushPara();
        addItem(false, m[1]);
      } else if ((m = /^(\d{1,4})[.)]\s+(.*)$/.exec(trimmed))) {
        flushPara();
        addItem(true, m[2], parseInt(m[1], 10));
      } else if ((m = /^#{1,6}\s+(.*)$/.exec(trimmed))) {
        flushPara();
        flushList();
        var heading = el("p", { class: "sc-md-heading" });
        var strong = el("strong");
        renderInline(m[1], strong, true);
        heading.append(strong);
        frag.append(heading);
      } else if (list && /^\s{2,}/.test(line)) {
        // indented continuation of the last list item
        list.lastItem.append(el("br"));
        renderInline(trimmed, list.lastItem, true);
      } else {
        flushList();
        (para = para || []).push(trimmed);
      }
    });
    flushPara();
    return frag;
  }

  // ---- mount: host element + shadow root ------------------------------------------------------------------

  var host = document.createElement("shopchat-widget"); // custom tag: page selectors like `div` do not match
  var shadow = host.attachShadow({ mode: "open" });
  var cssLink = el("link", { attrs: { rel: "stylesheet", href: cssUrl.href } });

  var root = el("div", { class: "sc-root", attrs: { "data-open": "false", "data-connection": "idle", lang: lang } });
  root.style.visibility = "hidden"; // until widget.css is in (CSSOM, so a strict style-src CSP is fine)
  cssLink.addEventListener("load", function () {
    root.style.visibility = "";
  });
  cssLink.addEventListener("error", function () {
    root.style.visibility = "";
  });

  var title = ds.title || T.title;

  var launcherBadge = el("span", { class: "sc-badge", attrs: { "aria-hidden": "true", hidden: "" } });
  var launcher = el(
    "button",
    {
      class: "sc-launcher",
      attrs: { type: "button", "aria-label": T.openChat, "aria-expanded": "false", "aria-controls": "sc-panel" },
      on: {
        click: function () {
          toggle();
        },
      },
    },
    [icon("chat", "sc-launcher-open"), icon("chevron", "sc-launcher-close"), launcherBadge],
  );

  var statusText = el("span", { class: "sc-status-text", text: T.connecting });
  var header = el("header", { class: "sc-header" }, [
    el("div", { class: "sc-avatar sc-avatar--lg", attrs: { "aria-hidden": "true" } }, [icon("sparkles")]),
    el("div", { class: "sc-header-text" }, [
      el("h2", { class: "sc-title", text: title, attrs: { id: "sc-title" } }),
      el("p", { class: "sc-status" }, [el("span", { class: "sc-dot", attrs: { "aria-hidden": "true" } }), statusText]),
    ]),
    el(
      "button",
      {
        class: "sc-icon-btn sc-new",
        attrs: { type: "button", "aria-label": T.newConversation, title: T.newConversation },
        on: { click: newConversation },
      },
      [icon("refresh")],
    ),
    el(
      "button",
      {
        class: "sc-icon-btn sc-close",
        attrs: { type: "button", "aria-label": T.closeChat, title: T.closeChat },
        on: {
          click: function () {
            close(true);
          },
        },
      },
      [icon("close")],
    ),
  ]);

  var bannerText = el("span", { class: "sc-banner-text" });
  var bannerRetry = el("button", {
    class: "sc-link-btn",
    text: T.tryNow,
    attrs: { type: "button" },
    on: {
      click: function () {
        attempt = 0;
        connect();
      },
    },
  });
  var banner = el("div", { class: "sc-banner", attrs: { role: "status", hidden: "" } }, [
    el("span", { class: "sc-spinner", attrs: { "aria-hidden": "true" } }),
    bannerText,
    bannerRetry,
  ]);

  var messages = el("div", { class: "sc-messages" });
  var outbox = el("div", { class: "sc-outbox" }); // messages not yet accepted by the server, always last
  var greeting = buildGreeting();
  // role=log for structure; its own live announcements are off because it changes word by word while an
  // answer streams — finished answers are announced once through `liveRegion` instead.
  var log = el("div", { class: "sc-log", attrs: { role: "log", "aria-live": "off", "aria-labelledby": "sc-title", tabindex: "-1" } }, [
    greeting,
    messages,
    outbox,
  ]);
  var liveRegion = el("div", { class: "sc-sr-only", attrs: { "aria-live": "polite", "aria-atomic": "true" } });

  var textarea = el("textarea", {
    class: "sc-input",
    attrs: {
      rows: "1",
      placeholder: T.placeholder,
      "aria-label": T.inputLabel,
      "aria-describedby": "sc-counter",
      enterkeyhint: "send",
    },
    on: { input: onInput, keydown: onInputKeydown },
  });
  var sendBtn = el(
    "button",
    { class: "sc-send", attrs: { type: "submit", "aria-label": T.send, title: T.send } },
    [icon("send")],
  );
  var stopBtn = el(
    "button",
    {
      class: "sc-stop",
      attrs: { type: "button", "aria-label": T.stop, title: T.stop, hidden: "" },
      on: { click: stopAnswers },
    },
    [el("span", { class: "sc-stop-square", attrs: { "aria-hidden": "true" } })],
  );
  var counter = el("div", { class: "sc-counter", attrs: { id: "sc-counter", "aria-live": "polite" } });
  var form = el(
    "form",
    {
      class: "sc-composer",
      attrs: { novalidate: "" },
      on: {
        submit: function (e) {
          e.preventDefault();
          submitInput();
        },
      },
    },
    [el("div", { class: "sc-input-wrap" }, [textarea, stopBtn, sendBtn]), counter],
  );
  var footer = el("div", { class: "sc-footer", text: T.poweredBy });

  var panel = el(
    "div",
    {
      class: "sc-panel",
      attrs: { id: "sc-panel", role: "dialog", "aria-modal": "true", "aria-labelledby": "sc-title", hidden: "" },
      on: { keydown: onPanelKeydown },
    },
    [header, banner, log, form, footer, liveRegion],
  );

  root.append(panel, launcher);
  shadow.append(cssLink, root);

  function mount() {
    document.body.appendChild(host);
    applyAccent(ds.accentColor);
  }

  // ---- accent colour with AA contrast --------------------------------------------------------------------

  function parseRgb(color) {
    var probe = el("span");
    probe.style.color = color;
    if (!probe.style.color) return null; // not a valid CSS colour
    root.append(probe);
    var m = /rgba?\((\d+),\s*(\d+),\s*(\d+)/.exec(getComputedStyle(probe).color);
    probe.remove();
    return m ? [+m[1], +m[2], +m[3]] : null;
  }

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function mix(rgb, target, amount) {
    return rgb.map(function (v, i) {
      return Math.round(v + (target[i] - v) * amount);
    });
  }

  function css(rgb) {
    return "rgb(" + rgb.join(", ") + ")";
  }

  /** Set --sc-accent and derived colours so text on and next to the accent stays readable (WCAG AA). */
  function applyAccent(color) {
    var rgb = (color && parseRgb(color)) || [79, 70, 229];
    var white = [255, 255, 255];
    var ink = [17, 24, 39];
    var onAccent = contrast(rgb, white) >= 4.5 ? white : ink;
    // Accent used as text on white (links, prices): darken until it reaches 4.5:1.
    var text = rgb;
    for (var i = 0; i < 10 && contrast(text, [243, 244, 246]) < 4.5; i++) text = mix(text, ink, 0.2);
    root.style.setProperty("--sc-accent", css(rgb));
    root.style.setProperty("--sc-on-accent", css(onAccent));
    root.style.setProperty("--sc-accent-text", css(text));
    root.style.setProperty("--sc-accent-soft", css(mix(rgb, white, 0.88)));
    root.style.setProperty("--sc-accent-hover", css(mix(rgb, onAccent === white ? ink : white, 0.15)));
  }

  // ---- greeting -----------------------------------------------------------------------------------------

  var starters;
  var greetingBubble;
  function buildGreeting() {
    starters = el("div", { class: "sc-quick sc-starters" }, starterChips(T.starters));
    greetingBubble = el("div", { class: "sc-bubble sc-md" }, [renderMarkdown(T.greeting)]);
    return el("div", { class: "sc-msg sc-msg--bot sc-greeting" }, [
      el("div", { class: "sc-avatar", attrs: { "aria-hidden": "true" } }, [icon("sparkles")]),
      el("div", { class: "sc-body" }, [greetingBubble, starters]),
    ]);
  }

  function starterChips(texts) {
    return texts.map(function (text) {
      return el("button", {
        class: "sc-chip",
        text: text,
        attrs: { type: "button" },
        on: {
          click: function () {
            sendText(text);
          },
        },
      });
    });
  }

  // ---- the shop's own greeting, suggestions and link domains (GET /api/shop, from shop.toml) --------------

  function loadShop() {
    fetch(serverBase + "/api/shop", { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(applyShop)
      .catch(function () {
        /* keep the built-in greeting; links stay limited to this server */
      })
      .then(function () {
        root.setAttribute("data-shop", "loaded"); // (also lets tests wait for it)
      });
  }

  function strings(value) {
    return Array.isArray(value)
      ? value.filter(function (item) {
          return typeof item === "string" && item.trim();
        })
      : [];
  }

  function applyShop(info) {
    if (!info || typeof info !== "object") return;
    if (Array.isArray(info.link_domains)) {
      linkDomains = strings(info.link_domains).map(function (domain) {
        return domain.trim().toLowerCase();
      });
    }
    var greetingText = typeof info.greeting === "string" && info.greeting.trim() ? info.greeting : T.greeting;
    greetingBubble.replaceChildren(renderMarkdown(greetingText));
    var suggestions = strings(info.suggestions);
    if (suggestions.length) starters.replaceChildren.apply(starters, starterChips(suggestions));
    // Answers shown before the list of link domains arrived (a replayed history) are rendered again under it.
    turns.forEach(function (turn) {
      if (turn.botEl) renderAnswer(turn);
    });
  }

  // ---- conversation model ---------------------------------------------------------------------------------
  // One "turn" per user message id: the user bubble and the assistant answer to it.

  var turns = new Map();

  function newId() {
    if (window.crypto && typeof crypto.randomUUID === "function") return "w-" + crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return (
      "w-" +
      Array.prototype.map
        .call(bytes, function (b) {
          return (b + 256).toString(16).slice(1);
        })
        .join("")
    );
  }

  function getTurn(id, text) {
    var turn = turns.get(id);
    if (!turn) {
      turn = {
        id: id,
        text: text || "",
        state: "pending", // pending → accepted → streaming → done | error; or failed (never accepted)
        answer: "",
        items: null,
        userEl: null,
        botEl: null,
        dirty: false,
      };
      turns.set(id, turn);
    }
    return turn;
  }

  function buildUserEl(turn) {
    var bubble = el("div", { class: "sc-bubble", text: turn.text });
    var meta = el("div", { class: "sc-meta" });
    turn.userEl = el("div", { class: "sc-msg sc-msg--user", attrs: { "data-message-id": turn.id } }, [
      el("span", { class: "sc-sr-only", text: T.you + ": " }),
      bubble,
      meta,
    ]);
    turn.metaEl = meta;
    return turn.userEl;
  }

  function setUserMeta(turn) {
    var meta = turn.metaEl;
    if (!meta) return;
    meta.replaceChildren();
    turn.userEl.setAttribute("data-state", turn.state === "pending" || turn.state === "failed" ? turn.state : "sent");
    turn.userEl.classList.toggle("sc-pending", turn.state === "pending");
    turn.userEl.classList.toggle("sc-failed", turn.state === "failed");
    if (turn.state === "pending") {
      meta.append(icon("clock"), document.createTextNode(isReady() ? T.sending : T.waiting));
    } else if (turn.state === "failed") {
      var row = el("div", { class: "sc-error", attrs: { role: "alert" } }, [
        icon("alert"),
        el("span", { text: T.notSent + " " + turn.errorText }),
      ]);
      if (turn.retry) {
        row.append(
          el("button", {
            class: "sc-link-btn",
            text: turn.retry === "edit" ? T.edit : T.retry,
            attrs: { type: "button" },
            on: {
              click: function () {
                turn.retry === "edit" ? editFailed(turn) : retryFailed(turn);
              },
            },
          }),
        );
      }
      meta.append(row);
    }
  }

  function buildBotEl(turn) {
    turn.bubbleEl = el("div", { class: "sc-bubble sc-md" });
    turn.toolsEl = el("ul", { class: "sc-tools", attrs: { "aria-live": "polite" } });
    turn.cardsEl = el("div", { class: "sc-cards-wrap" });
    turn.extraEl = el("div", { class: "sc-extra" });
    turn.botEl = el("div", { class: "sc-msg sc-msg--bot", attrs: { "data-reply-to": turn.id } }, [
      el("div", { class: "sc-avatar", attrs: { "aria-hidden": "true" } }, [icon("sparkles")]),
      el("div", { class: "sc-body" }, [
        el("span", { class: "sc-sr-only", text: T.assistant + ": " }),
        turn.toolsEl,
        turn.bubbleEl,
        turn.cardsEl,
        turn.extraEl,
      ]),
    ]);
    return turn.botEl;
  }

  function typingDots() {
    return el("span", { class: "sc-typing", attrs: { role: "img", "aria-label": T.typing } }, [
      el("span"),
      el("span"),
      el("span"),
    ]);
  }

  /** Re-render a streaming answer at most once per frame — deltas can arrive faster than we can paint. */
  var dirtyTurns = new Set();
  var renderScheduled = false;
  function scheduleRender(turn) {
    dirtyTurns.add(turn);
    if (renderScheduled) return;
    renderScheduled = true;
    var flush = function () {
      renderScheduled = false;
      dirtyTurns.forEach(renderAnswer);
      dirtyTurns.clear();
      followNewest();
    };
    // rAF does not run in background tabs; fall back to a timer so state stays current there too.
    if (document.hidden) setTimeout(flush, 50);
    else requestAnimationFrame(flush);
  }

  function renderAnswer(turn) {
    if (!turn.botEl) return;
    var bubble = turn.bubbleEl;
    if (!turn.answer && (turn.state === "accepted" || turn.state === "streaming")) {
      bubble.replaceChildren(typingDots());
      bubble.classList.add("sc-bubble--typing");
    } else {
      bubble.classList.remove("sc-bubble--typing");
      bubble.replaceChildren(renderMarkdown(turn.answer));
    }
    bubble.hidden = !turn.answer && !(turn.state === "accepted" || turn.state === "streaming");
    turn.botEl.setAttribute("data-state", turn.state); // accepted | streaming | done | error (also for tests)
    turn.botEl.classList.toggle("sc-streaming", turn.state === "streaming" || turn.state === "accepted");
    turn.botEl.setAttribute("aria-busy", String(turn.state === "streaming" || turn.state === "accepted"));
  }

  // ---- product cards ---------------------------------------------------------------------------------------

  var priceFormats = {};
  function formatPrice(price, currency) {
    try {
      var key = currency || "";
      priceFormats[key] =
        priceFormats[key] || new Intl.NumberFormat(lang, { style: "currency", currency: currency || "EUR" });
      return priceFormats[key].format(price);
    } catch (e) {
      return String(price) + (currency ? " " + currency : ""); // unknown currency code
    }
  }

  var TILE_HUES = [262, 199, 152, 24, 340, 45, 280, 186];
  function monogram(name) {
    var words = String(name).split(/\s+/).filter(Boolean);
    return ((words[0] || "?")[0] + (words[1] ? words[1][0] : "")).toUpperCase();
  }
  function hueFor(text) {
    var h = 0;
    for (var i = 0; i < text.length; i++) h = (h * 31 + text.charCodeAt(i)) >>> 0;
    return TILE_HUES[h % TILE_HUES.length];
  }

  function renderCards(turn) {
    turn.cardsEl.replaceChildren();
    var items = turn.items || [];
    if (!items.length) return;
    var list = el("ul", { class: "sc-cards", attrs: { "aria-label": T.recommended } });
    items.forEach(function (item) {
      var name = String(item.name || item.product_id || "");
      var hue = hueFor(String(item.product_id || name));
      var tile = el("div", { class: "sc-tile", text: monogram(name), attrs: { "aria-hidden": "true" } });
      tile.style.setProperty("--sc-tile-hue", String(hue));
      list.append(
        el("li", { class: "sc-card" }, [
          tile,
          el("div", { class: "sc-card-body" }, [
            el("div", { class: "sc-card-top" }, [
              el("span", { class: "sc-card-name", text: name, attrs: { title: name } }),
              el("span", { class: "sc-card-price", text: formatPrice(Number(item.price), item.currency) }),
            ]),
            item.reason ? el("p", { class: "sc-card-reason", text: String(item.reason) }) : null,
          ]),
        ]),
      );
    });
    turn.cardsEl.append(el("div", { class: "sc-cards-label", text: T.recommended }), list);
  }

  // ---- finished answers: stopped note, errors, feedback, quick replies ------------------------------------------

  function renderExtras(turn) {
    var extra = turn.extraEl;
    // Drawn again when the feedback is saved: a comment being typed keeps its text and the focus.
    var typing = extra.querySelector(".sc-comment-input");
    var draft = typing ? typing.value : "";
    var focused = !!typing && shadow.activeElement === typing;
    extra.replaceChildren();
    if (turn.stopped) extra.append(el("p", { class: "sc-note", text: T.stopped }));
    if (turn.state === "error") {
      var row = el("div", { class: "sc-error", attrs: { role: "alert" } }, [icon("alert"), el("span", { text: turn.errorText })]);
      if (turn.retryable) {
        row.append(
          el("button", {
            class: "sc-link-btn",
            text: T.retry,
            attrs: { type: "button" },
            on: {
              click: function () {
                sendText(turn.text);
              },
            },
          }),
        );
      }
      extra.append(row);
    }
    if (turn.state === "done") {
      extra.append(buildFeedback(turn));
      if (turn.items && turn.items.length && isLatestTurn(turn)) {
        extra.append(
          el("div", { class: "sc-quick" }, [
            quickReply(T.moreLikeThis, T.moreLikeThisText),
            quickReply(T.cheaper, T.cheaperText),
          ]),
        );
      }
    }
    var input = extra.querySelector(".sc-comment-input");
    if (input && draft) input.value = draft;
    if (input && focused) input.focus({ preventScroll: true });
  }

  function quickReply(label, text) {
    return el("button", {
      class: "sc-chip",
      text: label,
      attrs: { type: "button" },
      on: {
        click: function () {
          sendText(text);
        },
      },
    });
  }

  function isLatestTurn(turn) {
    var last = null;
    turns.forEach(function (t) {
      if (t.state !== "failed") last = t;
    });
    return last === turn;
  }

  function buildFeedback(turn) {
    var rating = store.feedback[turn.id] || 0;
    var wrap = el("div", { class: "sc-feedback" });
    var buttons = el("div", { class: "sc-feedback-buttons", attrs: { role: "group", "aria-label": T.helpful + " / " + T.notHelpful } }, [
      thumb(turn, 1, "up", T.helpful, rating === 1),
      thumb(turn, -1, "down", T.notHelpful, rating === -1),
    ]);
    wrap.append(buttons);
    if (turn.feedbackStatus === "saved") wrap.append(el("span", { class: "sc-feedback-note", text: T.thanks, attrs: { role: "status" } }));
    if (turn.feedbackStatus === "error")
      wrap.append(el("span", { class: "sc-feedback-note sc-feedback-note--error", text: T.feedbackFailed, attrs: { role: "alert" } }));
    if (turn.commentOpen) wrap.append(buildCommentForm(turn));
    return wrap;
  }

  function thumb(turn, rating, iconName, label, pressed) {
    return el(
      "button",
      {
        class: "sc-thumb",
        attrs: { type: "button", "aria-label": label, title: label, "aria-pressed": String(pressed), "data-rating": String(rating) },
        on: {
          click: function () {
            giveFeedback(turn, rating, null);
            turn.commentOpen = rating === -1;
            renderExtras(turn);
            followNewest(); // the comment box under the newest answer comes into view whole, button included
            if (turn.commentOpen) {
              var input = turn.extraEl.querySelector(".sc-comment-input");
              if (input) input.focus();
            }
          },
        },
      },
      [icon(iconName)],
    );
  }

  function buildCommentForm(turn) {
    var input = el("input", {
      class: "sc-comment-input",
      attrs: { type: "text", maxlength: "2000", placeholder: T.commentPlaceholder, "aria-label": T.commentLabel },
    });
    return el(
      "form",
      {
        class: "sc-comment",
        on: {
          submit: function (e) {
            e.preventDefault();
            var comment = input.value.trim();
            turn.commentOpen = false;
            if (comment) giveFeedback(turn, -1, comment);
            renderExtras(turn);
          },
        },
      },
      [input, el("button", { class: "sc-chip sc-chip--solid", text: T.commentSend, attrs: { type: "submit" } })],
    );
  }

  var pendingFeedback = new Map(); // message_id → frame, sent when connected

  function giveFeedback(turn, rating, comment) {
    store.feedback[turn.id] = rating;
    saveStore();
    turn.feedbackStatus = "sending";
    var frame = { type: "feedback", message_id: turn.id, rating: rating };
    if (comment) frame.comment = comment;
    pendingFeedback.set(turn.id, frame);
    flushControlFrames();
  }

  // ---- composer ------------------------------------------------------------------------------------------------

  function onInput() {
    // A growing input (and the counter appearing) shrinks the log: keep the newest message in view if it was.
    autosize();
    updateCounter();
    followNewest();
  }

  function autosize() {
    textarea.style.height = "auto";
    textarea.style.height = Math.min(textarea.scrollHeight, 140) + "px";
  }

  function updateCounter() {
    var n = textarea.value.length;
    var over = n - maxChars;
    var near = n >= maxChars * 0.8;
    counter.replaceChildren();
    counter.hidden = !near;
    form.classList.toggle("sc-too-long", over > 0);
    if (over > 0) textarea.setAttribute("aria-invalid", "true");
    else textarea.removeAttribute("aria-invalid");
    if (near) {
      counter.append(el("span", { class: "sc-counter-n", text: fmt(T.counter, { n: n, max: maxChars }) }));
      if (over > 0) counter.append(el("span", { text: fmt(T.tooLong, { over: over }) }));
    }
    sendBtn.disabled = over > 0;
  }

  function onInputKeydown(e) {
    // Enter sends, Shift+Enter is a newline; never while an IME composition is open (CJK input).
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      submitInput();
    }
  }

  function submitInput() {
    var text = textarea.value.trim();
    if (!text) return;
    if (text.length > maxChars) {
      form.classList.remove("sc-shake");
      void form.offsetWidth; // restart the animation
      form.classList.add("sc-shake");
      textarea.focus();
      return;
    }
    textarea.value = "";
    onInput();
    sendText(text);
    textarea.focus();
  }

  // ---- sending ---------------------------------------------------------------------------------------------------

  function sendText(text) {
    text = String(text || "").trim();
    if (!text) return;
    hideStarters();
    clearQuickReplies();
    closeOpenConfirms();
    var turn = getTurn(newId(), text);
    store.outbox.push({ id: turn.id, text: text });
    saveStore();
    outbox.append(buildUserEl(turn));
    setUserMeta(turn);
    scrollToBottom();
    if (!ws) connect();
    flushOutbox();
  }

  function hideStarters() {
    starters.hidden = true;
  }

  function clearQuickReplies() {
    turns.forEach(function (t) {
      if (t.state === "done" && t.items && t.items.length && t.extraEl) {
        var q = t.extraEl.querySelector(".sc-quick");
        if (q) q.remove();
      }
    });
  }

  var sentOnSocket = new Set(); // ids sent on the current socket (cleared on reconnect)

  function flushOutbox() {
    if (!isReady() || !replayDone) return;
    store.outbox.forEach(function (item) {
      if (sentOnSocket.has(item.id)) return;
      sentOnSocket.add(item.id);
      send({ type: "message", id: item.id, text: item.text });
    });
    turns.forEach(function (t) {
      if (t.state === "pending") setUserMeta(t);
    });
  }

  var pendingCancels = new Set();

  function flushControlFrames() {
    if (!isReady()) return;
    pendingCancels.forEach(function (id) {
      send({ type: "cancel", message_id: id });
    });
    pendingCancels.clear();
    pendingFeedback.forEach(function (frame) {
      send(frame);
    });
    pendingFeedback.clear();
    flushConfirmFrames();
  }

  function stopAnswers() {
    turns.forEach(function (t) {
      if (t.state === "accepted" || t.state === "streaming") {
        pendingCancels.add(t.id);
        t.stopping = true;
      }
    });
    stopBtn.setAttribute("aria-label", T.stopping);
    flushControlFrames();
    textarea.focus();
  }

  function updateStopButton() {
    var streaming = false;
    turns.forEach(function (t) {
      if (t.state === "accepted" || t.state === "streaming") streaming = true;
    });
    var wasVisible = !stopBtn.hidden;
    stopBtn.hidden = !streaming;
    sendBtn.hidden = streaming;
    if (!streaming) stopBtn.setAttribute("aria-label", T.stop);
    // Keep keyboard users in place when the button under their focus swaps.
    var active = shadow.activeElement;
    if (wasVisible && !streaming && active === stopBtn) textarea.focus();
  }

  function retryFailed(turn) {
    // A refused message was never stored, so the same id can be sent again.
    turn.state = "pending";
    turn.errorText = "";
    sentOnSocket.delete(turn.id);
    if (!store.outbox.some(function (i) { return i.id === turn.id; })) store.outbox.push({ id: turn.id, text: turn.text });
    saveStore();
    setUserMeta(turn);
    if (!ws) connect();
    flushOutbox();
  }

  function editFailed(turn) {
    turn.userEl.remove();
    turns.delete(turn.id);
    textarea.value = turn.text;
    onInput();
    textarea.focus();
  }

  // ---- server frames ---------------------------------------------------------------------------------------------

  var lastSeq = 0; // newest event seq applied to the UI; resume from here
  var replayUntil = 0; // events up to this seq are history being replayed (no announcements)
  var replayDone = true;
  var replayTimer = null;

  function handleFrame(f) {
    if (f.type === "ready") return onReady(f);
    if (f.type === "pong") return;
    if (f.type === "feedback_saved") return onFeedbackSaved(f);
    if (typeof f.seq === "number" && f.seq <= lastSeq) return;
    if (confirmHook(f)) return;
    if (typeof f.seq === "number") {
      if (f.seq <= lastSeq) return; // already applied (replayed twice, or a repeated `accepted`)
      lastSeq = f.seq;
    }
    var live = !(typeof f.seq === "number" && f.seq <= replayUntil);
    switch (f.type) {
      case "accepted":
        onAccepted(f, live);
        break;
      case "delta":
        onDelta(f);
        break;
      case "reset":
        onReset(f);
        break;
      case "recommendations":
        onRecommendations(f);
        break;
      case "tool_call":
        onToolCall(f);
        break;
      case "tool_result":
        onToolResult(f);
        break;
      case "done":
        onDone(f, live);
        break;
      case "error":
        onError(f, live);
        break;
      case "handoff":
        onHandoff(f, live);
        break;
      case "agent_message":
        onAgentMessage(f, live);
        break;
    }
    if (live && typeof f.seq === "number" && (f.type === "done" || f.type === "error")) noteModel(f);
    if (!replayDone && lastSeq >= replayUntil) finishReplay();
  }

  // The server's view of its model at connect time, then how each live answer ended.
  var MODEL_DOWN_CODES = ["model_unavailable", "model_timeout", "model_error", "model_auth"];
  function noteModel(f) {
    var ok = f.type === "done" || MODEL_DOWN_CODES.indexOf(f.code) < 0;
    if (ok === modelOk) return;
    modelOk = ok;
    if (connState === "online") setConnection("online");
  }

  function onReady(f) {
    fatalCloses = 0;
    // The server's limit wins over data-max-chars, so the counter never promises more than is accepted.
    maxChars = f.max_message_chars;
    if (!store.conv) lastSeq = 0; // a new conversation
    store.conv = { id: f.conversation_id, token: f.token, customerId: f.customer_id || customerId || null };
    saveStore();
    ready = true;
    attempt = 0;
    everConnected = true;
    replayUntil = f.last_seq;
    replayDone = replayUntil <= lastSeq;
    clearTimeout(replayTimer);
    if (!replayDone) {
      // Safety net: never hold the outbox hostage if the replay is shorter than announced.
      replayTimer = setTimeout(finishReplay, 3000);
    }
    modelOk = f.model_state !== "unreachable" && f.model_state !== "error";
    setConnection("online");
    startHeartbeat();
    flushControlFrames();
    flushOutbox();
  }

  function finishReplay() {
    clearTimeout(replayTimer);
    if (replayDone) return;
    replayDone = true;
    scrollToBottom();
    flushOutbox();
  }

  function onAccepted(f) {
    var turn = getTurn(f.message_id, f.text);
    turn.text = f.text;
    turn.createdAt = f.created_at;
    store.outbox = store.outbox.filter(function (i) {
      return i.id !== f.message_id;
    });
    saveStore();
    hideStarters();
    if (!turn.userEl) buildUserEl(turn);
    messages.append(turn.userEl); // moves a pending bubble out of the outbox, in server order
    turn.userEl.title = new Date(turn.createdAt).toLocaleString(lang);
    if (turn.state === "pending" || turn.state === "failed") turn.state = "accepted";
    setUserMeta(turn);
    if (!turn.botEl) messages.append(buildBotEl(turn));
    renderAnswer(turn);
    updateStopButton();
    followNewest();
  }

  function answerTurn(f) {
    var turn = getTurn(f.message_id);
    if (!turn.botEl) messages.append(buildBotEl(turn)); // an answer whose `accepted` we never saw
    return turn;
  }

  function onDelta(f) {
    var turn = answerTurn(f);
    if (turn.state === "done" || turn.state === "error") return;
    turn.state = "streaming";
    turn.answer += f.text;
    scheduleRender(turn);
    updateStopButton();
  }

  // A tool the assistant uses shows as one status line; model and tool text only ever goes in as textContent.
  function toolLine(f) {
    var args = f.arguments && typeof f.arguments === "object" ? f.arguments : {};
    var main = args.order_id != null ? args.order_id : args.query;
    var template = Object.prototype.hasOwnProperty.call(T.tools, f.name) ? T.tools[f.name] : T.toolWorking;
    if (main == null && template.indexOf("{arg}") >= 0) template = T.toolWorking;
    return fmt(template, { arg: String(main == null ? "" : main).slice(0, 80) });
  }

  function onToolCall(f) {
    var turn = answerTurn(f);
    var line = el("li", { class: "sc-tool sc-tool--running", attrs: { "data-call-id": String(f.call_id) } }, [
      el("span", { class: "sc-tool-text", text: toolLine(f) }),
      el("span", { class: "sc-tool-outcome" }),
    ]);
    turn.toolsEl.append(line);
    followNewest();
  }

  function onToolResult(f) {
    var turn = answerTurn(f);
    var lines = turn.toolsEl.children;
    for (var i = lines.length - 1; i >= 0; i--) {
      if (lines[i].getAttribute("data-call-id") !== String(f.call_id)) continue;
      lines[i].className = "sc-tool " + (f.ok ? "sc-tool--ok" : "sc-tool--failed");
      lines[i].lastChild.textContent = f.summary ? " " + String(f.summary) : "";
      break;
    }
  }

  // ---- confirmations: a change waits for the customer's Confirm or Cancel (docs/protocol.md, `confirm`) ----------
  // Kept apart from the rest of the frame handling: `confirmHook` is the one call handleFrame makes for them.

  var CONFIRM_STRINGS = {
    en: {
      label: "Please confirm",
      confirm: "Confirm",
      cancel: "Cancel",
      sending: "Sending your answer…",
      confirmed: "You confirmed this.",
      declined: "You cancelled this; nothing was changed.",
      closed: "This request is closed.",
      expired: "This request has expired; nothing was changed.",
      errors: {
        confirmation_expired: "This request has expired; nothing was changed. Ask again if you still want it.",
        confirmation_closed: "This request was already answered or replaced.",
        not_found: "This request could not be found.",
      },
    },
    de: {
      label: "Bitte bestätigen",
      confirm: "Bestätigen",
      cancel: "Abbrechen",
      sending: "Deine Antwort wird gesendet…",
      confirmed: "Du hast das bestätigt.",
      declined: "Du hast das abgebrochen; nichts wurde geändert.",
      closed: "Diese Anfrage ist geschlossen.",
      expired: "Diese Anfrage ist abgelaufen; nichts wurde geändert.",
      errors: {
        confirmation_expired: "Diese Anfrage ist abgelaufen; nichts wurde geändert. Frag einfach noch einmal.",
        confirmation_closed: "Diese Anfrage wurde schon beantwortet oder ersetzt.",
        not_found: "Diese Anfrage wurde nicht gefunden.",
      },
    },
  };
  var TC = CONFIRM_STRINGS[lang] || CONFIRM_STRINGS.en;
  var CONFIRM_PREFIX = "confirm-"; // the server stores a confirm frame as the message confirm-<action_id>
  var APPROVE_TEXT = "Yes, go ahead.";
  var confirmBoxes = new Map(); // action_id → {actionId, messageId, el, state, timer}
  var pendingConfirms = new Map(); // action_id → frame not yet sent (no socket)

  /** Every frame passes here first; true when it was a confirmation's error and is fully handled. */
  function confirmHook(f) {
    if (f.type === "error" && typeof f.seq !== "number" && isConfirmId(f.reply_to)) {
      onConfirmError(f);
      return true;
    }
    if (f.type === "confirm") onConfirm(f);
    else if (f.type === "accepted") onLaterMessage(f.message_id, f.text);
    else if (f.type === "done" || (f.type === "error" && typeof f.seq === "number")) {
      onLaterAnswer(f.message_id || f.reply_to);
    } else if (f.type === "reset") onConfirmReset(f.message_id);
    return false;
  }

  function isConfirmId(id) {
    return typeof id === "string" && id.indexOf(CONFIRM_PREFIX) === 0;
  }

  function onConfirm(f) {
    if (typeof f.action_id !== "string" || confirmBoxes.has(f.action_id)) return;
    var turn = answerTurn(f);
    var summaryId = "sc-confirm-" + confirmBoxes.size + "-" + Math.random().toString(36).slice(2, 8);
    var box = { actionId: f.action_id, messageId: f.message_id, state: "open", timer: null };
    box.yes = el("button", {
      class: "sc-chip sc-chip--solid sc-confirm-yes",
      text: TC.confirm,
      attrs: { type: "button", "aria-describedby": summaryId },
      on: {
        click: function () {
          answerConfirm(box, true);
        },
      },
    });
    box.no = el("button", {
      class: "sc-chip sc-confirm-no",
      text: TC.cancel,
      attrs: { type: "button", "aria-describedby": summaryId },
      on: {
        click: function () {
          answerConfirm(box, false);
        },
      },
    });
    box.note = el("p", { class: "sc-confirm-note", attrs: { "aria-live": "polite" } });
    var attrs = { role: "group", "aria-label": TC.label, "data-action-id": f.action_id, "data-state": "open" };
    var summary = String(f.summary == null ? "" : f.summary);
    box.el = el("div", { class: "sc-confirm", attrs: attrs }, [
      el("p", { class: "sc-confirm-label", text: TC.label }),
      el("p", { class: "sc-confirm-summary", text: summary, attrs: { id: summaryId } }),
      el("div", { class: "sc-confirm-actions" }, [box.yes, box.no]),
      box.note,
    ]);
    confirmBoxes.set(f.action_id, box);
    // Below the answer, which asks for "the buttons below"; several questions keep their order.
    (turn.lastConfirmEl && turn.lastConfirmEl.isConnected ? turn.lastConfirmEl : turn.bubbleEl).after(box.el);
    turn.lastConfirmEl = box.el;
    var expires = Date.parse(f.expires_at);
    if (!isNaN(expires)) {
      var left = expires - Date.now();
      if (left <= 0) closeConfirm(box, "expired", TC.expired);
      else {
        // Timers cap at ~24.8 days; the server's limit is far below that.
        box.timer = setTimeout(function () {
          closeConfirm(box, "expired", TC.expired);
        }, Math.min(left, 2147483647));
      }
    }
    followNewest();
  }

  function answerConfirm(box, approve) {
    if (box.state !== "open") return;
    var frame = { type: "confirm", action_id: box.actionId, approve: approve };
    setConfirmState(box, "sending", TC.sending);
    if (!send(frame)) {
      pendingConfirms.set(box.actionId, frame);
      if (!ws) connect();
    }
    textarea.focus(); // the focused button is now disabled: keyboard users keep their place
  }

  function flushConfirmFrames() {
    pendingConfirms.forEach(function (frame, actionId) {
      if (send(frame)) pendingConfirms.delete(actionId);
    });
  }

  /** A message was accepted: its own confirm answer closes its box; any later message closes every open one. */
  function onLaterMessage(messageId, text) {
    if (isConfirmId(messageId)) {
      var answered = confirmBoxes.get(messageId.slice(CONFIRM_PREFIX.length));
      if (answered) {
        var approved = text === APPROVE_TEXT;
        closeConfirm(answered, approved ? "confirmed" : "declined", approved ? TC.confirmed : TC.declined);
      }
    }
    confirmBoxes.forEach(function (box) {
      if (box.messageId !== messageId) closeConfirm(box, "closed", TC.closed);
    });
  }

  /** An answer to another message ended: the question was asked before it, so it is no longer open. */
  function onLaterAnswer(messageId) {
    confirmBoxes.forEach(function (box) {
      if (box.messageId !== messageId) closeConfirm(box, "closed", TC.closed);
    });
  }

  function onConfirmReset(messageId) {
    // The answer is generated again: its proposals are asked again with new ids.
    confirmBoxes.forEach(function (box, actionId) {
      if (box.messageId !== messageId) return;
      clearTimeout(box.timer);
      box.el.remove();
      confirmBoxes.delete(actionId);
    });
  }

  function onConfirmError(f) {
    var box = confirmBoxes.get(f.reply_to.slice(CONFIRM_PREFIX.length));
    var text = TC.errors[f.code] || errorText(f);
    if (!box) return showToast(text);
    if (box.state === "confirmed" || box.state === "declined") return; // the answer that counted is shown
    clearTimeout(box.timer);
    pendingConfirms.delete(box.actionId);
    setConfirmState(box, f.code === "confirmation_expired" ? "expired" : "closed", text);
  }

  function closeConfirm(box, state, text) {
    // Final states stay: a late timer or a later message does not overwrite "confirmed".
    if (box.state !== "open" && box.state !== "sending") return;
    clearTimeout(box.timer);
    pendingConfirms.delete(box.actionId);
    setConfirmState(box, state, text);
  }

  function setConfirmState(box, state, text) {
    var focused = shadow.activeElement === box.yes || shadow.activeElement === box.no;
    box.state = state;
    box.yes.disabled = box.no.disabled = state !== "open";
    box.el.setAttribute("data-state", state);
    box.note.textContent = text || "";
    if (focused && state !== "open") textarea.focus({ preventScroll: true });
  }

  function closeOpenConfirms() {
    confirmBoxes.forEach(function (box) {
      closeConfirm(box, "closed", TC.closed);
    });
  }

  function onReset(f) {
    var turn = answerTurn(f);
    turn.toolsEl.replaceChildren();
    turn.answer = "";
    turn.items = null;
    turn.state = "accepted";
    renderCards(turn);
    scheduleRender(turn);
    updateStopButton();
  }

  function onRecommendations(f) {
    var turn = answerTurn(f);
    turn.items = f.items;
    renderCards(turn);
    followNewest();
  }

  function onDone(f, live) {
    if (f.held) return onHeldDone(f);
    var turn = answerTurn(f);
    turn.state = "done";
    turn.answer = f.text;
    turn.route = f.route;
    turn.stopped = !!f.stopped;
    turn.stopping = false;
    dirtyTurns.delete(turn);
    renderAnswer(turn);
    renderExtras(turn);
    updateStopButton();
    followNewest();
    if (live) {
      announce(fmt(T.newAnswer, { text: turn.answer }));
      if (!isOpen) bumpUnread();
    }
  }

  function onError(f, live) {
    var code = f.code;
    // Before `ready`, an error explains the close that follows (bad token or bad parameters): the close
    // handler starts a new conversation, there is nothing to show the customer.
    if (!ready) return;
    var text = errorText(f);
    var turn = f.reply_to ? turns.get(f.reply_to) : null;
    if (typeof f.seq === "number" && f.reply_to) {
      // A stored error that ended the answer to reply_to.
      turn = answerTurn({ message_id: f.reply_to });
      turn.state = "error";
      turn.errorText = text;
      turn.retryable = code !== "message_too_many_tokens";
      dirtyTurns.delete(turn);
      renderAnswer(turn);
      renderExtras(turn);
      updateStopButton();
      followNewest();
      if (live) announce(text);
      return;
    }
    if (turn && (turn.state === "pending" || turn.state === "failed")) {
      // The message itself was refused (not stored).
      store.outbox = store.outbox.filter(function (i) {
        return i.id !== turn.id;
      });
      saveStore();
      turn.state = "failed";
      turn.errorText = text;
      turn.retry = code === "message_too_long" || code === "message_too_many_tokens" ? "edit" : "retry";
      setUserMeta(turn);
      if (code === "rate_limited" && f.retry_after_s) scheduleAutoRetry(turn, f.retry_after_s);
      announce(text);
      return;
    }
    if (turn && turn.state === "done") {
      // A feedback (or late cancel) about a finished answer failed.
      if (pendingFeedbackIds.has(turn.id) || turn.feedbackStatus === "sending") {
        turn.feedbackStatus = "error";
        renderExtras(turn);
      }
      return;
    }
    if (turn && code === "not_found") return; // a cancel that raced with the end of the answer
    showToast(text);
  }

  var pendingFeedbackIds = new Set();

  function scheduleAutoRetry(turn, seconds) {
    setTimeout(function () {
      if (turn.state === "failed") retryFailed(turn);
    }, Math.max(1, seconds) * 1000);
  }

  function errorText(f) {
    var E = T.errors;
    var code = f.code;
    if (code === "rate_limited") {
      return f.retry_after_s ? fmt(E.rate_limited_s, { s: Math.ceil(f.retry_after_s) }) : E.rate_limited;
    }
    if (code === "message_too_long") return fmt(E.message_too_long, { max: maxChars });
    if (E[code]) return E[code];
    if (code.indexOf("model_") === 0) return E.model;
    return E.generic;
  }

  function onFeedbackSaved(f) {
    pendingFeedbackIds.delete(f.message_id);
    var turn = turns.get(f.message_id);
    if (!turn) return;
    turn.feedbackStatus = "saved";
    if (turn.state === "done") {
      renderExtras(turn);
      followNewest();
    }
  }

  var toastTimer = null;
  function showToast(text) {
    var existing = panel.querySelector(".sc-toast");
    if (existing) existing.remove();
    var toast = el("div", { class: "sc-toast", attrs: { role: "alert" } }, [icon("alert"), el("span", { text: text })]);
    panel.insertBefore(toast, form);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () {
      toast.remove();
    }, 6000);
  }

  function announce(text) {
    // Clear first so the same text twice is still announced.
    liveRegion.textContent = "";
    setTimeout(function () {
      liveRegion.textContent = text.length > 600 ? text.slice(0, 600) + "…" : text;
    }, 50);
  }

  function clearConversationUI() {
    resetHandoff();
    turns.clear();
    dirtyTurns.clear();
    messages.replaceChildren();
    outbox.replaceChildren();
    starters.hidden = false;
    store.feedback = {};
    // Messages that were never accepted stay in the outbox and go to the new conversation.
    store.outbox.forEach(function (item) {
      var turn = getTurn(item.id, item.text);
      outbox.append(buildUserEl(turn));
      setUserMeta(turn);
      starters.hidden = true;
    });
    updateStopButton();
  }

  // ---- connection ------------------------------------------------------------------------------------------------

  var ws = null;
  var ready = false;
  var attempt = 0;
  var retryTimer = null;
  var connectTimer = null;
  var heartbeatTimer = null;
  var lastFrameAt = 0;
  var everConnected = false;
  var fatalCloses = 0;
  var connState = "idle";
  var modelOk = true;
  var serverReady = true; // GET /readyz's last answer (see "the server's readiness")

  // ---- handoff to a person (docs/protocol.md: `handoff`, `agent_message`, the `ticket` frame) -------------
  // A person of the shop may join: their messages look different from the assistant's, a bar above the
  // composer says who answers, and when nobody can come the customer may leave an email address. Everything
  // the server sends goes in as textContent.

  var HANDOFF_STRINGS = {
    en: {
      waiting: "Waiting for a person from the team…",
      withPerson: "You are chatting with {name}",
      team: "team",
      emailLabel: "Your email address",
      emailPlaceholder: "you@example.com",
      emailSend: "Send",
      emailInvalid: "Please enter a valid email address.",
    },
    de: {
      waiting: "Warte auf eine Person aus dem Team…",
      withPerson: "Sie chatten mit {name}",
      team: "Team",
      emailLabel: "Ihre E-Mail-Adresse",
      emailPlaceholder: "sie@beispiel.de",
      emailSend: "Senden",
      emailInvalid: "Bitte geben Sie eine gültige E-Mail-Adresse ein.",
    },
  };
  var TH = HANDOFF_STRINGS[lang] || HANDOFF_STRINGS.en;
  var handoffText = el("span", { class: "sc-handoff-bar-text" });
  var handoffBar = el("div", { class: "sc-handoff-bar", attrs: { role: "status", hidden: "" } }, [
    el("span", { class: "sc-spinner", attrs: { "aria-hidden": "true" } }),
    handoffText,
  ]);
  panel.insertBefore(handoffBar, form);
  var ticketForm = null;
  var ticketSent = false;

  function displayName(name) {
    var text = String(name || "");
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function setHandoffBar(status, name) {
    if (status === "waiting") {
      handoffText.textContent = TH.waiting;
      handoffBar.setAttribute("data-status", "waiting");
      handoffBar.hidden = false;
    } else if (status === "joined") {
      handoffText.textContent = fmt(TH.withPerson, { name: displayName(name) });
      handoffBar.setAttribute("data-status", "joined");
      handoffBar.hidden = false;
    } else {
      handoffBar.hidden = true;
      handoffBar.removeAttribute("data-status");
    }
  }

  function resetHandoff() {
    setHandoffBar(null);
    if (ticketForm) ticketForm.remove();
    ticketForm = null;
    ticketSent = false;
  }

  function onHandoff(f, live) {
    hideStarters();
    var note = el("div", { class: "sc-handoff", attrs: { "data-status": String(f.status) } }, [
      el("span", { class: "sc-handoff-text", text: String(f.message || "") }),
    ]);
    messages.append(note);
    if (f.status === "unavailable") {
      if (ticketForm) ticketForm.remove();
      ticketForm = null;
      // Offered live only, and once: the `unavailable` that thanks for the address needs no second form.
      if (!ticketSent && live) note.append(buildTicketForm());
    } else {
      setHandoffBar(f.status, f.operator_name);
    }
    followNewest();
    if (live) announce(String(f.message || ""));
  }

  function buildTicketForm() {
    var input = el("input", {
      class: "sc-ticket-input",
      attrs: { type: "email", autocomplete: "email", placeholder: TH.emailPlaceholder, "aria-label": TH.emailLabel },
    });
    var hint = el("span", { class: "sc-ticket-hint", attrs: { "aria-live": "polite" } });
    ticketForm = el(
      "form",
      {
        class: "sc-ticket",
        attrs: { novalidate: "" },
        on: {
          submit: function (e) {
            e.preventDefault();
            var email = input.value.trim();
            if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
              hint.textContent = TH.emailInvalid;
              input.focus();
              return;
            }
            if (send({ type: "ticket", email: email })) {
              ticketSent = true;
              ticketForm.remove();
              ticketForm = null;
            }
          },
        },
      },
      [
        input,
        el("button", { class: "sc-ticket-send", text: TH.emailSend, attrs: { type: "submit" } }),
        hint,
      ],
    );
    return ticketForm;
  }

  function onAgentMessage(f, live) {
    hideStarters();
    var name = displayName(f.operator_name);
    var bubble = el("div", { class: "sc-bubble", text: String(f.text || "") });
    var row = el("div", { class: "sc-msg sc-msg--agent", attrs: { "data-message-id": String(f.message_id) } }, [
      el("div", { class: "sc-avatar sc-avatar--agent", attrs: { "aria-hidden": "true" }, text: name.charAt(0) }),
      el("div", { class: "sc-body" }, [
        el("span", { class: "sc-agent-name", text: name + " · " + TH.team }),
        bubble,
      ]),
    ]);
    if (f.created_at) row.title = new Date(f.created_at).toLocaleString(lang);
    messages.append(row);
    followNewest();
    if (live) {
      announce(name + ": " + String(f.text || ""));
      if (!isOpen) bumpUnread();
    }
  }

  // A message a person (not the assistant) will answer: no assistant bubble for it.
  function onHeldDone(f) {
    var turn = turns.get(f.message_id);
    if (!turn) return;
    turn.state = "done";
    turn.held = true;
    dirtyTurns.delete(turn);
    if (turn.botEl) turn.botEl.remove();
    turn.botEl = null;
    updateStopButton();
  }

  function isReady() {
    return !!ws && ready && ws.readyState === WebSocket.OPEN;
  }

  function send(frame) {
    if (!isReady()) return false;
    if (frame.type === "feedback") pendingFeedbackIds.add(frame.message_id);
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    if (ws) return;
    var url = new URL(wsUrlBase.href);
    if (store.conv) {
      url.searchParams.set("conversation_id", store.conv.id);
      url.searchParams.set("token", store.conv.token);
      url.searchParams.set("last_seq", String(lastSeq));
    } else if (customerId) {
      url.searchParams.set("customer_id", customerId);
      if (customerSig) url.searchParams.set("customer_sig", customerSig);
    }
    setConnection(everConnected ? "reconnecting" : connState === "reconnecting" ? "reconnecting" : "connecting");
    var sock;
    try {
      sock = new WebSocket(url.href);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    ready = false;
    sentOnSocket.clear();
    lastFrameAt = Date.now();
    // A half-open TCP connection can hang forever: give up on a socket that is not ready in time.
    clearTimeout(connectTimer);
    connectTimer = setTimeout(function () {
      if (ws === sock && !ready) dropSocket(sock, 4000);
    }, 10000);
    sock.onmessage = function (event) {
      if (ws !== sock) return;
      lastFrameAt = Date.now();
      handleFrame(JSON.parse(event.data));
    };
    sock.onclose = function (event) {
      if (ws !== sock) return;
      onSocketGone(event.code);
    };
  }

  /** Forget a socket now (without waiting for a close handshake that may never come) and reconnect. */
  function dropSocket(sock, code) {
    if (ws !== sock) return;
    sock.onclose = sock.onmessage = null;
    try {
      sock.close();
    } catch (e) {
      /* already closed */
    }
    onSocketGone(code);
  }

  function onSocketGone(code) {
    ws = null;
    ready = false;
    clearTimeout(connectTimer);
    stopHeartbeat();
    turns.forEach(function (t) {
      if (t.state === "pending") setUserMeta(t);
    });
    if (code === 4401 || code === 4400) {
      // The stored conversation is unusable (bad token or bad parameters): start a new one.
      fatalCloses++;
      store.conv = null;
      lastSeq = 0;
      saveStore();
      clearConversationUI();
      if (fatalCloses > 3) {
        setConnection("failed");
        return;
      }
      attempt = 0;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    // Exponential backoff with jitter: 0.5 s, 1 s, 2 s … capped at 30 s, each randomised to 50–100 %
    // so that a restarted server is not hit by every tab at the same instant.
    var base = Math.min(30000, 500 * Math.pow(2, attempt));
    var delay = base / 2 + Math.random() * (base / 2);
    attempt++;
    setConnection(navigator.onLine === false ? "offline" : "reconnecting");
    retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (ws || !retryTimer) return;
    attempt = 0;
    connect();
  }

  function startHeartbeat() {
    stopHeartbeat();
    heartbeatTimer = setInterval(function () {
      if (!isReady()) return;
      if (Date.now() - lastFrameAt > 60000) {
        dropSocket(ws, 4000); // nothing heard for a minute (not even pongs): the connection is dead
        return;
      }
      send({ type: "ping" });
    }, 25000);
  }

  function stopHeartbeat() {
    clearInterval(heartbeatTimer);
    heartbeatTimer = null;
  }

  function setConnection(state) {
    connState = state;
    root.setAttribute("data-connection", state);
    root.setAttribute("data-model", modelOk ? "ok" : "degraded");
    root.setAttribute("data-ready", serverReady ? "ok" : "degraded");
    var labels = {
      idle: T.online,
      connecting: T.connecting,
      online: modelOk && serverReady ? T.online : T.delayed,
      reconnecting: T.reconnecting,
      offline: T.offline,
      failed: T.bannerFailed,
    };
    statusText.textContent = labels[state] || "";
    var showBanner = state === "reconnecting" || state === "offline" || state === "failed";
    banner.hidden = !showBanner;
    banner.setAttribute("data-state", state);
    bannerText.textContent =
      state === "offline" ? T.bannerOffline : state === "failed" ? T.bannerFailed : T.bannerReconnecting;
    bannerRetry.hidden = state !== "failed" && state !== "offline";
  }

  window.addEventListener("online", reconnectNow);
  window.addEventListener("offline", function () {
    if (!isReady()) setConnection("offline");
  });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) reconnectNow();
    watchReadiness();
  });

  // ---- the server's readiness (GET /readyz), asked only while the panel is open and the page visible -----------
  // Not ready (its database, Redis or model is down): "replies may be delayed", as a load balancer would see it.
  var READY_EVERY_MS = 30000; // while ready
  var READY_RETRY_MS = 5000; // after "not ready" or no answer, doubling up to READY_BACKOFF_MAX_MS
  var READY_BACKOFF_MAX_MS = 60000;
  var readyTimer = null;
  var readyFailures = 0;
  var readyAsking = false;
  var readyMissing = false; // a server older than /readyz: never asked again
  var lastReadyCheck = 0;

  function readinessWanted() {
    return isOpen && !document.hidden && !readyMissing;
  }

  /** Start, resume or stop asking, as the panel opens or closes and the page is shown or hidden. */
  function watchReadiness() {
    clearTimeout(readyTimer);
    readyTimer = null;
    if (!readinessWanted() || readyAsking) return;
    var wait = lastReadyCheck + READY_RETRY_MS - Date.now(); // reopening at once asks at most every 5 s
    readyTimer = setTimeout(checkReady, Math.max(0, wait));
  }

  function nextReadyDelay() {
    var base = readyFailures
      ? Math.min(READY_BACKOFF_MAX_MS, READY_RETRY_MS * Math.pow(2, readyFailures - 1))
      : READY_EVERY_MS;
    return base * (0.75 + Math.random() * 0.25); // spread out the tabs that opened together
  }

  function checkReady() {
    readyTimer = null;
    if (!readinessWanted() || readyAsking) return;
    readyAsking = true;
    lastReadyCheck = Date.now();
    fetch(serverBase + "/readyz", { credentials: "omit", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 404) {
          readyMissing = true;
          return;
        }
        if (response.status !== 200 && response.status !== 503) throw new Error("readyz " + response.status);
        noteReadiness(response.status === 200);
      })
      .catch(function () {
        readyFailures++; // unreachable: the socket's own state says so; keep what is known, ask later
      })
      .then(function () {
        readyAsking = false;
        if (readinessWanted()) readyTimer = setTimeout(checkReady, nextReadyDelay());
      });
  }

  function noteReadiness(ready) {
    readyFailures = ready ? 0 : readyFailures + 1;
    // Ready includes the model: a failure seen on an earlier answer is over.
    if (ready === serverReady && (!ready || modelOk)) return;
    serverReady = ready;
    if (ready) modelOk = true;
    setConnection(connState);
  }

  // ---- open / close, focus management ----------------------------------------------------------------------------

  var isOpen = false;
  var unread = 0;

  function open(focusInput) {
    if (isOpen) {
      if (focusInput !== false) textarea.focus();
      return;
    }
    isOpen = true;
    panel.hidden = false;
    root.setAttribute("data-open", "true");
    launcher.setAttribute("aria-expanded", "true");
    launcher.setAttribute("aria-label", T.closeChat);
    unread = 0;
    launcherBadge.hidden = true;
    rememberOpen(true);
    if (!ws && !retryTimer) connect();
    watchReadiness();
    scrollToBottom();
    // Focus after the panel is displayed, so the browser can move focus into it.
    if (focusInput !== false) {
      requestAnimationFrame(function () {
        if (isOpen) textarea.focus();
      });
    }
  }

  function close(returnFocus) {
    if (!isOpen) return;
    isOpen = false;
    panel.hidden = true;
    root.setAttribute("data-open", "false");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-label", T.openChat);
    rememberOpen(false);
    watchReadiness();
    if (returnFocus !== false) launcher.focus();
  }

  function toggle() {
    isOpen ? close(true) : open();
  }

  function rememberOpen(value) {
    try {
      sessionStorage.setItem(OPEN_KEY, value ? "1" : "0");
    } catch (e) {
      /* ignore */
    }
  }

  function bumpUnread() {
    unread++;
    launcherBadge.textContent = String(unread);
    launcherBadge.hidden = false;
  }

  function focusables() {
    return Array.prototype.filter.call(
      panel.querySelectorAll('button, textarea, input, a[href], [tabindex]:not([tabindex="-1"])'),
      function (node) {
        return !node.disabled && !node.closest("[hidden]") && node.getClientRects().length > 0;
      },
    );
  }

  function onPanelKeydown(e) {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      close(true);
      return;
    }
    if (e.key !== "Tab") return;
    // Focus trap: Tab / Shift+Tab cycle inside the open panel.
    var items = focusables();
    if (!items.length) return;
    var first = items[0];
    var last = items[items.length - 1];
    var active = shadow.activeElement;
    if (e.shiftKey && (active === first || items.indexOf(active) === -1)) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (active === last || items.indexOf(active) === -1)) {
      e.preventDefault();
      first.focus();
    }
  }

  // The log follows new content (answers as they stream, cards, feedback) unless the customer has scrolled up
  // to read history; scrolling back down to the end follows again. Whether to follow is decided by the
  // customer's own scrolling, never by how far new content happens to reach: a set of cards arriving at once
  // is taller than any "near the bottom" slack.
  var following = true;
  var ownScrollTop = -1; // where our last scrollToBottom put the log, to tell our scrolls from the customer's

  function nearBottom(slack) {
    return log.scrollHeight - log.scrollTop - log.clientHeight < (slack || 96);
  }

  function scrollToBottom() {
    log.scrollTop = log.scrollHeight;
    ownScrollTop = log.scrollTop;
    following = true;
  }

  function followNewest() {
    if (following) scrollToBottom();
  }

  log.addEventListener("scroll", function () {
    if (Math.abs(log.scrollTop - ownScrollTop) <= 1) return; // our own scroll
    following = nearBottom(32);
    ownScrollTop = -1;
  });

  // ---- public API --------------------------------------------------------------------------------------------------

  function newConversation() {
    if (ws) dropSocketQuietly();
    store = { conv: null, outbox: [], feedback: {} };
    lastSeq = 0;
    saveStore();
    clearConversationUI();
    connect();
    textarea.focus();
  }

  function dropSocketQuietly() {
    var sock = ws;
    ws = null;
    ready = false;
    stopHeartbeat();
    clearTimeout(connectTimer);
    sock.onclose = sock.onmessage = null;
    try {
      sock.close(1000);
    } catch (e) {
      /* ignore */
    }
  }

  function setCustomer(id, sig) {
    var next = id == null || id === "" ? null : String(id);
    if (next === customerId && (!store.conv || (store.conv.customerId || null) === next)) return;
    customerId = next;
    customerSig = next && sig ? String(sig) : null;
    // A different customer: their conversation is a new one (the old one belongs to someone else).
    var wasConnected = !!ws || !!store.conv;
    if (ws) dropSocketQuietly();
    clearTimeout(retryTimer);
    retryTimer = null;
    store = { conv: null, outbox: [], feedback: {} };
    lastSeq = 0;
    saveStore();
    clearConversationUI();
    if (wasConnected || isOpen) connect();
  }

  var api = {
    version: VERSION,
    open: function () {
      open(true);
    },
    close: function () {
      close(false);
    },
    toggle: toggle,
    setCustomer: setCustomer,
    newConversation: newConversation,
    send: function (text) {
      open();
      sendText(text);
    },
    get customerId() {
      return customerId;
    },
    get connection() {
      return connState;
    },
    get conversationId() {
      return store.conv ? store.conv.id : null;
    },
    _renderMarkdown: renderMarkdown, // for tests and debugging only
  };
  Object.defineProperty(window, "ShopChat", { value: Object.freeze(api), configurable: true });

  // ---- start ---------------------------------------------------------------------------------------------------------

  function start() {
    mount();
    loadShop();
    // Messages that never reached the server before the last page unload: show them as pending.
    store.outbox.forEach(function (item) {
      var turn = getTurn(item.id, item.text);
      outbox.append(buildUserEl(turn));
      setUserMeta(turn);
      hideStarters();
    });
    updateCounter();
    setConnection("idle");
    // Connect right away only when there is something to restore or deliver; otherwise on first open.
    if (store.conv || store.outbox.length) connect();
    var wasOpen = false;
    try {
      wasOpen = sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (e) {
      /* ignore */
    }
    if (wasOpen) open(false); // restore the panel after a reload, without stealing the page's focus
    window.dispatchEvent(new CustomEvent("shopchat:ready"));
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
